package dkv.aggregator.web;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dkv.aggregator.json.StatsJson;
import dkv.avro.PairedStats;
import dkv.avro.StatsSnapshot;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Sinks;

/**
 * The aggregator's latest snapshots for live readers: the newest per experiment, a bounded history of each
 * comparison's (n, mean δ, confidence sequence) for the "over n" chart, and a hot stream of new snapshots.
 * A slow reader misses intermediate snapshots (each carries everything), never slows the aggregator.
 */
public final class LiveSnapshots {
    /** History points kept per experiment; older ones are thinned by half when full. */
    static final int HISTORY_LIMIT = 512;

    private final Map<String, StatsSnapshot> latest = new LinkedHashMap<>();
    private final Map<String, Deque<ObjectNode>> history = new LinkedHashMap<>();
    private final Sinks.Many<StatsSnapshot> updates = Sinks.many().multicast().directBestEffort();

    public synchronized void publish(StatsSnapshot snapshot) {
        latest.put(snapshot.getExperimentId(), snapshot);
        Deque<ObjectNode> points = history.computeIfAbsent(snapshot.getExperimentId(), k -> new ArrayDeque<>());
        points.addLast(point(snapshot));
        if (points.size() > HISTORY_LIMIT) {
            thin(points);
        }
        updates.tryEmitNext(snapshot);
    }

    public void publish(List<StatsSnapshot> snapshots) {
        snapshots.forEach(this::publish);
    }

    public synchronized Map<String, StatsSnapshot> latest() {
        return new LinkedHashMap<>(latest);
    }

    /** Every experiment's history as {@code {"<experiment>": [point, ...]}}. */
    public synchronized ObjectNode history() {
        ObjectNode out = StatsJson.MAPPER.createObjectNode();
        history.forEach((id, points) -> {
            ArrayNode array = out.putArray(id);
            points.forEach(array::add);
        });
        return out;
    }

    /** New snapshots as they are published (hot: nothing is replayed). */
    public Flux<StatsSnapshot> updates() {
        return updates.asFlux();
    }

    /** {@code {"records": r, "produced_at": t, "c": {"<name>": [n, mean, cs_lo, cs_hi]}}} — null for NaN. */
    static ObjectNode point(StatsSnapshot s) {
        ObjectNode point = StatsJson.MAPPER.createObjectNode();
        point.put("records", s.getRecords());
        point.put("produced_at", s.getProducedAt());
        ObjectNode conditions = point.putObject("c");
        List<PairedStats> all = new ArrayList<>(s.getConditions());
        all.addAll(s.getContrasts());
        for (PairedStats p : all) {
            ArrayNode values = conditions.putArray(p.getName());
            values.add(p.getN());
            for (double v : new double[] {p.getMeanDelta(), p.getCsLo(), p.getCsHi()}) {
                if (Double.isFinite(v)) {
                    values.add(v);
                } else {
                    values.addNull();
                }
            }
        }
        return point;
    }

    /** Keeps every other point of the older half, so the history spans the whole run at bounded size. */
    private static void thin(Deque<ObjectNode> points) {
        List<ObjectNode> all = new ArrayList<>(points);
        points.clear();
        int half = all.size() / 2;
        for (int i = 0; i < all.size(); i++) {
            if (i >= half || i % 2 == 0) {
                points.addLast(all.get(i));
            }
        }
    }
}
