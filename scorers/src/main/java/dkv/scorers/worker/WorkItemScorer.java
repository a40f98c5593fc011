package dkv.scorers.worker;

import dkv.avro.ConditionSpec;
import dkv.avro.ModelRef;
import dkv.avro.ScoreRecord;
import dkv.avro.WorkItem;
import dkv.scorers.recipe.UnsupportedConditionException;
import dkv.scorers.score.SampleScorer;
import dkv.scorers.score.ScoreOptions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Scores one WorkItem into one ScoreRecord per condition, carrying the item's experiment id, plan hash,
 * model and meta. Everything wrong with the item itself (another model, an unsupported placement or
 * family, a malformed condition list, text that does not tokenize into an answer) is an
 * {@link IllegalArgumentException} naming the item; anything else (torch failing) is not the item's fault.
 *
 * <p>Not thread-safe, like {@link SampleScorer}: one per scoring thread.
 */
public final class WorkItemScorer {
    private final ServedModel served;
    private final SampleScorer scorer;
    private final ScoreOptions options;

    /** @param options what every record carries besides the item's own fields (worker id, attention, batch size) */
    public WorkItemScorer(ServedModel served, ScoreOptions options) {
        this.served = served;
        this.scorer = new SampleScorer(served.lm());
        this.options = options;
    }

    public ServedModel served() {
        return served;
    }

    public List<ScoreRecord> score(WorkItem item) {
        String where = "work item " + item.getExperimentId() + "/" + item.getSample().getId();
        served.requireMatch(item.getModel());
        requireWellFormed(item.getConditions(), where);
        List<ScoreRecord> scored;
        try {
            scored = scorer.score(item.getSample(), item.getConditions(),
                    options.withExperiment(item.getExperimentId(), item.getPlanHash(), item.getMeta()));
        } catch (UnsupportedConditionException e) {
            throw new UnsupportedConditionException(where + ": " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
        }
        ModelRef model = ModelRef.newBuilder().setId(item.getModel().getId())
                .setRevision(item.getModel().getRevision() != null ? item.getModel().getRevision() : served.revision())
                .build();
        List<ScoreRecord> records = new ArrayList<>(scored.size());
        for (ScoreRecord r : scored) {
            records.add(ScoreRecord.newBuilder(r).setModel(model).build());
        }
        return records;
    }

    private static void requireWellFormed(List<ConditionSpec> conditions, String where) {
        if (conditions.isEmpty()) {
            throw new IllegalArgumentException(where + ": no conditions");
        }
        Set<String> names = new HashSet<>();
        for (ConditionSpec c : conditions) {
            if (c.getName().isBlank()) {
                throw new IllegalArgumentException(where + ": a condition has a blank name");
            }
            if (!names.add(c.getName())) {
                throw new IllegalArgumentException(where + ": condition '" + c.getName() + "' appears twice");
            }
        }
    }
}
