package dkv.scorers.worker;

import dkv.avro.ConditionSpec;
import dkv.avro.ModelRef;
import dkv.avro.ScoreRecord;
import dkv.avro.WorkItem;
import dkv.scorers.recipe.CacheRecipe;
import dkv.scorers.recipe.SegmentTexts;
import dkv.scorers.recipe.UnsupportedConditionException;
import dkv.scorers.score.RecordContext;
import dkv.scorers.score.SampleScorer;
import dkv.scorers.score.ScoreOptions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Scores WorkItems into one ScoreRecord per condition, carrying each item's experiment id, plan hash,
 * model and meta. Everything wrong with an item itself (another model, an unsupported placement or
 * family, a malformed condition list, text that does not tokenize into an answer) is an
 * {@link IllegalArgumentException} naming the item; anything else (torch failing) is not the item's fault
 * and propagates.
 *
 * <p>{@link #scoreAll} scores many items' forwards together in one {@link SampleScorer#scoreAll} call, which
 * is what keeps a GPU's padded batches full; a bad item fails alone.
 *
 * <p>Not thread-safe, like {@link SampleScorer}: one per scoring thread.
 */
public final class WorkItemScorer {
    private final ServedModel served;
    private final SampleScorer scorer;
    private final ScoreOptions options;

    /** What became of one item: its records in condition order, or the reason it cannot be scored. */
    public sealed interface ItemResult {
        record Scored(List<ScoreRecord> records) implements ItemResult {}

        record Failed(IllegalArgumentException reason) implements ItemResult {}
    }

    /** @param options what every record carries besides the item's own fields (worker id, attention, batch size) */
    public WorkItemScorer(ServedModel served, ScoreOptions options) {
        this.served = served;
        this.scorer = new SampleScorer(served.lm());
        this.options = options;
    }

    public ServedModel served() {
        return served;
    }

    /** One item's records; its own fault is thrown as an {@link IllegalArgumentException}. */
    public List<ScoreRecord> score(WorkItem item) {
        return switch (scoreAll(List.of(item)).getFirst()) {
            case ItemResult.Scored s -> s.records();
            case ItemResult.Failed f -> throw f.reason();
        };
    }

    /**
     * One result per item, in order. Items are checked first (model, condition list, recipes) so that a bad one
     * fails alone; the rest are scored in one batched call. Should that call still reject an item (e.g. an
     * answer without tokens, found only when tokenizing), the rest are rescored one by one so only the culprit
     * fails. Errors not of an item's making propagate.
     */
    public List<ItemResult> scoreAll(List<WorkItem> items) {
        List<ItemResult> results = new ArrayList<>(items.size());
        List<Integer> good = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            try {
                validate(items.get(i));
                results.add(null);
                good.add(i);
            } catch (IllegalArgumentException e) {
                results.add(new ItemResult.Failed(e));
            }
        }
        if (good.isEmpty()) return results;
        List<WorkItem> batch = good.stream().map(items::get).toList();
        try {
            List<List<ScoreRecord>> scored = scoreValidated(batch);
            for (int k = 0; k < good.size(); k++) results.set(good.get(k), new ItemResult.Scored(scored.get(k)));
        } catch (IllegalArgumentException batchRejected) {
            if (batch.size() == 1) {
                results.set(good.getFirst(), new ItemResult.Failed(blame(batch.getFirst(), batchRejected)));
                return results;
            }
            for (int k = 0; k < good.size(); k++) {
                WorkItem item = batch.get(k);
                try {
                    results.set(good.get(k), new ItemResult.Scored(scoreValidated(List.of(item)).getFirst()));
                } catch (IllegalArgumentException e) {
                    results.set(good.get(k), new ItemResult.Failed(blame(item, e)));
                }
            }
        }
        return results;
    }

    private List<List<ScoreRecord>> scoreValidated(List<WorkItem> items) {
        List<SampleScorer.SampleWork> work = items.stream()
                .map(i -> new SampleScorer.SampleWork(i.getSample(), i.getConditions(), context(i))).toList();
        return scorer.scoreAll(work, options);
    }

    /** The checks that need no tokenizing: tokenizing every condition twice would cost CPU on every item. */
    private void validate(WorkItem item) {
        String where = where(item);
        served.requireMatch(item.getModel());
        requireWellFormed(item.getConditions(), where);
        for (ConditionSpec c : item.getConditions()) {
            try {
                CacheRecipe.of(c, served.lm().shape(), served.lm().family());
                SegmentTexts.of(c, item.getSample());
            } catch (UnsupportedConditionException e) {
                throw new UnsupportedConditionException(where + ": " + e.getMessage());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
            }
        }
    }

    private static IllegalArgumentException blame(WorkItem item, IllegalArgumentException e) {
        return e instanceof UnsupportedConditionException
                ? new UnsupportedConditionException(where(item) + ": " + e.getMessage())
                : new IllegalArgumentException(where(item) + ": " + e.getMessage(), e);
    }

    /** What the item's records carry: its experiment, plan, meta and model (the served revision when it names none). */
    private RecordContext context(WorkItem item) {
        ModelRef model = ModelRef.newBuilder().setId(item.getModel().getId())
                .setRevision(item.getModel().getRevision() != null ? item.getModel().getRevision() : served.revision())
                .build();
        return new RecordContext(item.getExperimentId(), item.getPlanHash(), item.getMeta(), model);
    }

    private static String where(WorkItem item) {
        return "work item " + item.getExperimentId() + "/" + item.getSample().getId();
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
