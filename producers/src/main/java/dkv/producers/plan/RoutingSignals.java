package dkv.producers.plan;

import com.fasterxml.jackson.databind.JsonNode;
import dkv.avro.DerivedKind;
import dkv.avro.ScoreTarget;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The {@code signals} of a derived condition that routes by an NLL ({@code routed_by_nll}, {@code rank_average}): per
 * member, in members order, the scored condition that builds that member's very cache and scores the real query on it
 * ({@code "target": "QUERY"}). Lab notebook v1 exp 06 routed its 11-cache pool by this "query NLL", on the idea that the
 * cache which best predicts the query is the best primed to answer it. A signal that built another cache would route
 * by a document state other than the one it picks, so such a plan is refused, naming the field that differs.
 */
final class RoutingSignals {
    /** The derived kinds, as a plan writes them, for messages. */
    static final String KINDS = "routed, best_of, routed_by_nll or rank_average";

    private RoutingSignals() {}

    static boolean routesBySignal(DerivedKind kind) {
        return kind == DerivedKind.ROUTED_BY_NLL || kind == DerivedKind.RANK_AVERAGE;
    }

    /**
     * The signal names of one derived condition (empty for the kinds without signals).
     *
     * @param node       the condition's {@code signals} value, null where absent
     * @param path       its JSON path, which every message starts with
     * @param conditions the plan's scored conditions by name
     * @throws IllegalArgumentException "{path}: problem", one line
     */
    static List<String> read(JsonNode node, String path, DerivedKind kind, List<String> members,
            Map<String, PlanCondition> conditions) {
        String word = kind.name().toLowerCase(java.util.Locale.ROOT);
        if (node == null || node.isNull()) {
            if (routesBySignal(kind)) {
                throw new IllegalArgumentException(path + ": required for " + word + ": per member, the condition that"
                        + " scores the query on that member's cache (\"target\": \"QUERY\")");
            }
            return List.of();
        }
        if (!routesBySignal(kind)) {
            throw new IllegalArgumentException(path + ": " + word + " takes no signals (only routed_by_nll and "
                    + "rank_average route by one)");
        }
        if (!node.isArray() || node.size() != members.size()) {
            throw new IllegalArgumentException(path + ": expected a list of " + members.size() + " condition names, one"
                    + " per member in members order, found " + node);
        }
        List<String> signals = new ArrayList<>(members.size());
        for (int j = 0; j < members.size(); j++) {
            String at = path + "[" + j + "]";
            JsonNode value = node.get(j);
            if (!value.isTextual()) {
                throw new IllegalArgumentException(at + ": expected a condition name, found " + value);
            }
            String name = value.asText();
            PlanCondition signal = conditions.get(name);
            if (signal == null) {
                throw new IllegalArgumentException(at + ": no scored condition named '" + name + "'");
            }
            if (signals.contains(name)) {
                throw new IllegalArgumentException(at + ": '" + name + "' is listed twice; each member has its own cache");
            }
            if (signal.target() != ScoreTarget.QUERY) {
                throw new IllegalArgumentException(at + ": '" + name + "' scores the answer; a signal scores the query"
                        + " (\"target\": \"QUERY\")");
            }
            String member = members.get(j);
            String difference = conditions.get(member).cacheDifference(signal);
            if (difference != null) {
                throw new IllegalArgumentException(at + ": '" + name + "' does not build the cache of member '" + member
                        + "': " + difference);
            }
            signals.add(name);
        }
        return signals;
    }
}
