package dkv.scorers.worker;

import dkv.avro.Candidate;
import dkv.avro.ConditionSpec;
import dkv.avro.ModelRef;
import dkv.avro.Sample;
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
 * <p>Many items' forwards are scored together in one {@link SampleScorer} call, which is what keeps a GPU's padded
 * batches full; a bad item fails alone.
 *
 * <p>Two stages, like {@link SampleScorer}: {@link #prepare} (host, thread-safe) and {@link #score} (the device, one
 * thread).
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

    /** One result per item, in order: {@link #score}({@link #prepare}). */
    public List<ItemResult> scoreAll(List<WorkItem> items) {
        return score(prepare(items));
    }

    /**
     * The items' host work (docs/architecture.md "Service pipelines"): each item is checked first (model, condition
     * list, recipes) so that a bad one fails alone, and the rest are tokenized, laid out and planned as one call.
     * Should that still reject an item (e.g. an answer without tokens, found only when tokenizing), the rest are
     * prepared one by one so only the culprit fails. Thread-safe: CPU worker threads run it.
     */
    public PreparedItems prepare(List<WorkItem> items) {
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
        List<PreparedPart> parts = new ArrayList<>();
        if (good.isEmpty()) return new PreparedItems(items, results, parts);
        try {
            parts.add(preparePart(items, good));
        } catch (IllegalArgumentException batchRejected) {
            for (int index : good) {
                try {
                    parts.add(preparePart(items, List.of(index)));
                } catch (IllegalArgumentException e) {
                    results.set(index, new ItemResult.Failed(blame(items.get(index), e)));
                }
            }
        }
        return new PreparedItems(items, results, parts);
    }

    /**
     * Scores prepared items on the device; call it from the thread that owns the model. One result per item, in
     * order. Should the device work still reject an item (an {@link IllegalArgumentException} from a forward), the
     * rest of its call are rescored one by one so only the culprit fails. Errors not of an item's making propagate.
     */
    public List<ItemResult> score(PreparedItems prepared) {
        List<ItemResult> results = new ArrayList<>(prepared.results);
        for (PreparedPart part : prepared.parts) {
            try {
                List<List<ScoreRecord>> scored = perItem(scorer.score(part.call()), part.candidates());
                for (int k = 0; k < part.items().size(); k++) results.set(part.items().get(k), new ItemResult.Scored(scored.get(k)));
            } catch (IllegalArgumentException callRejected) {
                for (int index : part.items()) {
                    WorkItem item = prepared.items.get(index);
                    if (part.items().size() == 1) {
                        results.set(index, new ItemResult.Failed(blame(item, callRejected)));
                        continue;
                    }
                    try {
                        PreparedPart alone = preparePart(prepared.items, List.of(index));
                        results.set(index, new ItemResult.Scored(perItem(scorer.score(alone.call()), alone.candidates()).getFirst()));
                    } catch (IllegalArgumentException e) {
                        results.set(index, new ItemResult.Failed(blame(item, e)));
                    }
                }
            }
        }
        return results;
    }

    /**
     * Items after their host work: those that failed it, with their reasons, and the calls that score the rest.
     * Holds no tensors.
     */
    public static final class PreparedItems {
        private final List<WorkItem> items;
        private final List<ItemResult> results;
        private final List<PreparedPart> parts;

        private PreparedItems(List<WorkItem> items, List<ItemResult> results, List<PreparedPart> parts) {
            this.items = List.copyOf(items);
            this.results = results;
            this.parts = List.copyOf(parts);
        }

        /** Samples (candidates count one each) the device will score. */
        public int samples() {
            return parts.stream().mapToInt(p -> p.call().samples()).sum();
        }
    }

    /** One prepared call: the indices of its items, how many samples each contributed, the call itself. */
    private record PreparedPart(List<Integer> items, List<Integer> candidates, SampleScorer.PreparedCall call) {}

    /**
     * Every item's samples as one prepared call. A ranking item (one with candidates) is scored once per candidate,
     * the candidate's text in place of the passage, its records carrying the candidate; they come back in candidate
     * order.
     */
    private PreparedPart preparePart(List<WorkItem> items, List<Integer> indices) {
        List<SampleScorer.SampleWork> work = new ArrayList<>();
        List<Integer> parts = new ArrayList<>();
        for (int index : indices) {
            WorkItem item = items.get(index);
            RecordContext context = context(item);
            Sample sample = item.getSample();
            if (sample.getCandidates().isEmpty()) {
                work.add(new SampleScorer.SampleWork(sample, item.getConditions(), context));
                parts.add(1);
                continue;
            }
            for (Candidate c : sample.getCandidates()) {
                Sample asPassage = Sample.newBuilder(sample).setPassage(c.getText()).setCandidates(List.of()).build();
                work.add(new SampleScorer.SampleWork(asPassage, item.getConditions(), context.forCandidate(c)));
            }
            parts.add(sample.getCandidates().size());
        }
        return new PreparedPart(List.copyOf(indices), parts, scorer.prepare(work, options));
    }

    /** A call's records regrouped per item (a ranking item's candidates together). */
    private static List<List<ScoreRecord>> perItem(List<List<ScoreRecord>> scored, List<Integer> parts) {
        List<List<ScoreRecord>> perItem = new ArrayList<>(parts.size());
        int next = 0;
        for (int n : parts) {
            List<ScoreRecord> records = new ArrayList<>();
            for (int k = 0; k < n; k++) records.addAll(scored.get(next++));
            perItem.add(records);
        }
        return perItem;
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
