package dkv.producers;

import dkv.avro.Candidate;
import dkv.avro.Sample;
import dkv.avro.ScoreTarget;
import dkv.producers.plan.Plan;
import dkv.producers.plan.PlanCondition;
import dkv.producers.plan.RankingSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What a plan requires of its samples, checked on every sample of the first pass (so a mismatch fails before the
 * first WorkItem is sent), and how a ranking query's candidates become WorkItems: a ranking plan needs samples
 * with candidates and a plan without ranking needs samples without; a sample without an answer needs every
 * condition to score the query; a candidate list over the plan's cap is split into parts of the same query (same
 * sample id, so the records meet again in the aggregator) or refused.
 */
final class RankingWork {
    private final Plan plan;
    private final Optional<RankingSpec> ranking;
    private final List<String> answerConditions;

    RankingWork(Plan plan) {
        this.plan = plan;
        this.ranking = plan.ranking();
        this.answerConditions = plan.conditions().stream().filter(c -> c.target() == ScoreTarget.ANSWER)
                .map(PlanCondition::name).toList();
    }

    /** Throws IllegalArgumentException naming the sample when it cannot be worked on under this plan. */
    void check(Sample sample) {
        boolean hasCandidates = !sample.getCandidates().isEmpty();
        if (ranking.isPresent() && !hasCandidates) {
            throw new IllegalArgumentException(plan.source() + ": a ranking plan, but sample '" + sample.getId()
                    + "' of dataset '" + sample.getDataset() + "' has no candidates (MS MARCO, ESCI and WANDS give them)");
        }
        if (ranking.isEmpty() && hasCandidates) {
            throw new IllegalArgumentException(plan.source() + ": sample '" + sample.getId() + "' of dataset '"
                    + sample.getDataset() + "' is a ranking query (" + sample.getCandidates().size()
                    + " candidates): add \"ranking\": true to the plan");
        }
        if (sample.getAnswer().isEmpty() && !answerConditions.isEmpty()) {
            throw new IllegalArgumentException(plan.source() + ": sample '" + sample.getId() + "' of dataset '"
                    + sample.getDataset() + "' has no answer, but conditions " + answerConditions
                    + " score the answer: give them \"target\": \"QUERY\" (query likelihood)");
        }
        ranking.ifPresent(r -> {
            if (r.overCap() == RankingSpec.OverCap.REFUSE && sample.getCandidates().size() > r.maxCandidates()) {
                throw new IllegalArgumentException(plan.source() + ": query '" + sample.getId() + "' has "
                        + sample.getCandidates().size() + " candidates, more than ranking.max_candidates "
                        + r.maxCandidates() + " (over_cap refuse; raise the cap or use over_cap split)");
            }
        });
    }

    /** How many WorkItems the sample becomes. */
    int parts(Sample sample) {
        return ranking.map(r -> Math.max(1, ceilDiv(sample.getCandidates().size(), r.maxCandidates()))).orElse(1);
    }

    /** The sample itself, or its parts: consecutive runs of at most max_candidates candidates, same id. */
    List<Sample> split(Sample sample) {
        int parts = parts(sample);
        if (parts == 1) {
            return List.of(sample);
        }
        int size = ranking.orElseThrow().maxCandidates();
        List<Candidate> all = sample.getCandidates();
        List<Sample> out = new ArrayList<>(parts);
        for (int from = 0; from < all.size(); from += size) {
            out.add(Sample.newBuilder(sample).setCandidates(new ArrayList<>(all.subList(from, Math.min(all.size(), from + size))))
                    .build());
        }
        return out;
    }

    /** The Kafka key of part {@code part} of {@code parts}: parts of one query need keys of their own. */
    static String sampleKey(Sample sample, int part, int parts) {
        return parts == 1 ? sample.getId() : sample.getId() + "#" + (part + 1);
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}
