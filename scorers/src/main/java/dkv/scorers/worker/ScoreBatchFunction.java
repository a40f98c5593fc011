package dkv.scorers.worker;

import dkv.avro.ScoreRecord;
import dkv.avro.WorkItem;
import dkv.platform.kafka.Outcome;
import dkv.platform.kafka.TransactionalPipeline;
import dkv.schemas.Topics;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The scorer's prepare and score stages ({@link TransactionalPipeline}): one poll window of WorkItems → ScoreRecords on {@code dkv.scores}, keyed
 * {@code experiment_id/sample_id/condition}. An item that cannot be scored for a reason of its own
 * ({@link IllegalArgumentException}: wrong model, unsupported condition, malformed, untokenizable) becomes
 * a failed outcome, i.e. a dead letter with the reason, and the rest of the batch goes on. Any other error
 * (the runtime failing) propagates: the pipeline stops and the call is re-read by the next worker,
 * instead of dead-lettering good work.
 */
public final class ScoreBatchFunction implements TransactionalPipeline.Stages<String, WorkItem, ScoreBatchFunction.Prepared, String, ScoreRecord> {
    private static final Logger log = LoggerFactory.getLogger(ScoreBatchFunction.class);

    private final WorkItemScorer scorer;
    private final ScorerMetrics metrics;
    private final String scoresTopic;
    private final Object gate;
    private final Set<String> reportedModels = ConcurrentHashMap.newKeySet();

    /**
     * @param gate the score stage runs while holding it: workers of one JVM that share a model pass the same object
     *             so that only one scores at a time; a worker with its own model passes a fresh one (its score
     *             stage's one thread then owns the model alone)
     */
    public ScoreBatchFunction(WorkItemScorer scorer, ScorerMetrics metrics, String scoresTopic, Object gate) {
        this.scorer = scorer;
        this.metrics = metrics;
        this.scoresTopic = scoresTopic;
        this.gate = gate;
    }

    public static ScoreBatchFunction of(WorkItemScorer scorer, ScorerMetrics metrics) {
        return new ScoreBatchFunction(scorer, metrics, Topics.SCORES, new Object());
    }

    /** A poll's records and their items' host work, waiting for the score stage. */
    public record Prepared(List<ConsumerRecord<String, WorkItem>> batch, WorkItemScorer.PreparedItems items) {}

    /**
     * The prepare stage (CPU worker threads): every decodable item of the poll is validated, tokenized, laid out
     * and planned as one call, so that their forwards share padded batches.
     */
    @Override
    public Prepared prepare(List<ConsumerRecord<String, WorkItem>> batch) {
        List<WorkItem> items = new ArrayList<>();
        for (ConsumerRecord<String, WorkItem> record : batch) {
            if (record.value() != null) items.add(record.value());
        }
        return new Prepared(List.copyOf(batch), scorer.prepare(items));
    }

    /**
     * The score stage (the thread that owns the model): one outcome per record; each record's {@code score_ms} is
     * its share of the call's scoring time.
     */
    @Override
    public List<Outcome<String, ScoreRecord>> score(Prepared prepared) {
        List<WorkItemScorer.ItemResult> results;
        synchronized (gate) {
            results = scorer.score(prepared.items());
        }
        List<Outcome<String, ScoreRecord>> outcomes = new ArrayList<>(prepared.batch().size());
        int next = 0;
        for (ConsumerRecord<String, WorkItem> record : prepared.batch()) {
            outcomes.add(record.value() == null ? undecodable(record) : outcome(record, results.get(next++)));
        }
        return outcomes;
    }

    /** Both stages in a row, on the calling thread. */
    public List<Outcome<String, ScoreRecord>> apply(List<ConsumerRecord<String, WorkItem>> batch) {
        return score(prepare(batch));
    }

    private Outcome<String, ScoreRecord> undecodable(ConsumerRecord<String, WorkItem> record) {
        metrics.rejected();
        return Outcome.failed(new IllegalArgumentException("work record " + record.topic() + "-" + record.partition()
                + "@" + record.offset() + " has no value"));
    }

    /**
     * A line per dead letter, except for a wrong model: a worker started on another model than the work names
     * refuses every item, so it says so once per wanted model, with the fix, and counts the rest silently
     * (dkv.scorer.work.items{outcome=dead_letter}).
     */
    private void report(ConsumerRecord<String, WorkItem> record, IllegalArgumentException reason) {
        if (!(reason instanceof ModelMismatchException mismatch)) {
            log.warn("dead letter {}: {}", record.key(), reason.getMessage());
        } else if (reportedModels.add(mismatch.wanted().toString())) {
            log.warn("dead letters: {}; {}. Every such item goes to {}, without a line each", mismatch.getMessage(),
                    mismatch.fix(), Topics.DEAD);
        }
    }

    private Outcome<String, ScoreRecord> outcome(ConsumerRecord<String, WorkItem> record, WorkItemScorer.ItemResult result) {
        return switch (result) {
            case WorkItemScorer.ItemResult.Failed f -> {
                report(record, f.reason());
                metrics.rejected();
                yield Outcome.failed(f.reason());
            }
            case WorkItemScorer.ItemResult.Scored s -> {
                metrics.scored(s.records());
                List<ProducerRecord<String, ScoreRecord>> out = new ArrayList<>(s.records().size());
                for (ScoreRecord r : s.records()) {
                    out.add(new ProducerRecord<>(scoresTopic, Topics.scoreKey(r), r));
                }
                yield Outcome.produced(out);
            }
        };
    }
}
