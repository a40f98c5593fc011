package dkv.schemas;

/** Topic names shared by every service; the services meet only here and in the Avro records. */
public final class Topics {
    public static final String WORK = "dkv.work";
    public static final String SCORES = "dkv.scores";
    public static final String STATS = "dkv.stats";
    public static final String DEAD = "dkv.dead";
    /** Documents awaiting generated surrogates (SurrogateRequest), keyed like the work: experiment_id/sample_id. */
    public static final String DOCS = "dkv.docs";
    /** Generated (or embedded) surrogates, compacted, keyed experiment_id/sample_id/name: the producer's join state. */
    public static final String SURROGATES = "dkv.surrogates";

    /** Default partition count of the work topic: enough consumers can join to scale scoring out. */
    public static final int DEFAULT_WORK_PARTITIONS = 24;

    private Topics() {}

    /** Key of a WorkItem: one per sample of an experiment, so re-producing a plan is idempotent by key. */
    public static String workKey(String experimentId, String sampleId) {
        return experimentId + "/" + sampleId;
    }

    /** Key of a Surrogate: one per template (or given text) of a sample; the compacted topic keeps the latest. */
    public static String surrogateKey(String experimentId, String sampleId, String name) {
        return experimentId + "/" + sampleId + "/" + name;
    }

    /** Key of a ScoreRecord: the aggregator de-duplicates on exactly this triple. */
    public static String scoreKey(String experimentId, String sampleId, String condition) {
        return experimentId + "/" + sampleId + "/" + condition;
    }

    /** A score's key: {@code experiment/sample/condition}, or {@code experiment/query/candidate/condition} for ranking. */
    public static String scoreKey(dkv.avro.ScoreRecord r) {
        return r.getCandidateId() == null ? scoreKey(r.getExperimentId(), r.getSampleId(), r.getCondition())
                : r.getExperimentId() + "/" + r.getSampleId() + "/" + r.getCandidateId() + "/" + r.getCondition();
    }
}
