package dkv.scorers.score;

import dkv.avro.ExperimentMeta;
import dkv.avro.ModelRef;

/** What records of one sample carry besides their scores: experiment, plan and model as the work named them. */
public record RecordContext(String experimentId, String planHash, ExperimentMeta meta, ModelRef model) {}
