/**
 * Scoring: {@link dkv.scorers.score.SampleScorer} turns a sample and its conditions into {@code ScoreRecord}s (answer
 * NLL, segment counts, the document K/V check, attention shares); {@link dkv.scorers.score.FixtureCheck} compares a
 * device/dtype against the HF reference fixtures.
 */
package dkv.scorers.score;
