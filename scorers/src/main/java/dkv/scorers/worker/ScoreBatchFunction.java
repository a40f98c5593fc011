package dkv.scorers.worker;

import dkv.avro.ScoreRecord;
import dkv.avro.WorkItem;
import dkv.platform.kafka.Outcome;
import dkv.platform.kafka.TransactionalProcessor;
import dkv.schemas.Topics;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One poll window of WorkItems → ScoreRecords on {@code dkv.scores}, keyed
 * {@code experiment_id/sample_id/condition}. An item that cannot be scored for a reason of its own
 * ({@link IllegalArgumentException}: wrong model, unsupported condition, malformed, untokenizable) becomes
 * a failed outcome, i.e. a dead letter with the reason, and the rest of the batch goes on. Any other error
 * (the runtime failing) propagates: the processor stops and the batch is re-read by the next worker,
 * instead of dead-lettering good work.
 */
public final class ScoreBatchFunction implements TransactionalProcessor.BatchFunction<String, WorkItem, String, ScoreRecord> {
    private static final Logger log = LoggerFactory.getLogger(ScoreBatchFunction.class);

    private final WorkItemScorer scorer;
    private final ScorerMetrics metrics;
    private final String scoresTopic;
    private final Object gate;

    /**
     * @param gate scoring runs while holding it: workers of one JVM that share a model pass the same object
     *             so that only one scores at a time; a worker with its own model passes a fresh one
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

    @Override
    public List<Outcome<String, ScoreRecord>> apply(List<ConsumerRecord<String, WorkItem>> batch) {
        List<Outcome<String, ScoreRecord>> outcomes = new ArrayList<>(batch.size());
        for (ConsumerRecord<String, WorkItem> record : batch) {
            outcomes.add(scoreOne(record));
        }
        return outcomes;
    }

    private Outcome<String, ScoreRecord> scoreOne(ConsumerRecord<String, WorkItem> record) {
        WorkItem item = record.value();
        if (item == null) {
            metrics.rejected();
            return Outcome.failed(new IllegalArgumentException("work record " + record.topic() + "-" + record.partition()
                    + "@" + record.offset() + " has no value"));
        }
        List<ScoreRecord> scored;
        try {
            synchronized (gate) {
                scored = scorer.score(item);
            }
        } catch (IllegalArgumentException e) {
            log.warn("dead letter {}: {}", record.key(), e.getMessage());
            metrics.rejected();
            return Outcome.failed(e);
        }
        metrics.scored(scored);
        List<ProducerRecord<String, ScoreRecord>> out = new ArrayList<>(scored.size());
        for (ScoreRecord r : scored) {
            out.add(new ProducerRecord<>(scoresTopic, Topics.scoreKey(r.getExperimentId(), r.getSampleId(), r.getCondition()), r));
        }
        return Outcome.produced(out);
    }
}
