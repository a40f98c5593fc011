package dkv.scorers.score;

import dkv.avro.AttentionShares;

/** What scoring one condition produced before it becomes a record. */
record ConditionScore(AnswerLogprobs answer, Double documentKvDelta, AttentionShares attention) {}
