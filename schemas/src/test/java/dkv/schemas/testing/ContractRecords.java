package dkv.schemas.testing;

import dkv.avro.AttentionShares;
import dkv.avro.AttentionSummary;
import dkv.avro.ConditionPair;
import dkv.avro.ConditionSpec;
import dkv.avro.Correlation;
import dkv.avro.DeadLetter;
import dkv.avro.ExperimentMeta;
import dkv.avro.GenerationSettings;
import dkv.avro.NamedText;
import dkv.avro.LayerShares;
import dkv.avro.ModelRef;
import dkv.avro.PairedStats;
import dkv.avro.RankingComparison;
import dkv.avro.RankingCondition;
import dkv.avro.RankingStats;
import dkv.avro.Passage;
import dkv.avro.Placement;
import dkv.avro.RopeCorrection;
import dkv.avro.Sample;
import dkv.avro.ScoreRecord;
import dkv.avro.SegmentShares;
import dkv.avro.SegmentTokens;
import dkv.avro.StatsSnapshot;
import dkv.avro.Surrogate;
import dkv.avro.SurrogateRequest;
import dkv.avro.SurrogateSource;
import dkv.avro.WorkItem;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.apache.avro.specific.SpecificRecord;

/**
 * Fully populated records of every contract type: every optional union is set and every array is
 * non-empty, so a round trip that preserves them exercises the whole schema. {@code seed} varies the
 * values so tests can tell records apart.
 */
public final class ContractRecords {
    private ContractRecords() {}

    /** One record of each type listed by {@link dkv.schemas.AvroSerde#contractTypes()}. */
    public static List<SpecificRecord> oneOfEach(int seed) {
        return List.of(sample(seed), conditionSpec(seed), workItem(seed), scoreRecord(seed), statsSnapshot(seed), deadLetter(seed),
                surrogateRequest(seed), surrogate(seed));
    }

    public static Sample sample(int seed) {
        return Sample.newBuilder()
                .setId("s" + seed)
                .setDataset("msmarco-v1.1")
                .setQuery("what is the boiling point of water " + seed)
                .setPassage("Water boils at 100 °C at sea level; ünïcödé ✓ " + seed)
                .setAnswer("100 °C")
                .setPassages(List.of(
                        new Passage(true, "Water boils at 100 °C.", "https://example.org/" + seed),
                        new Passage(false, "Unrelated passage.", null)))
                .setQueryType("NUMERIC")
                .setExtra(Map.of("query_id", Integer.toString(1000 + seed)))
                .build();
    }

    public static ConditionSpec conditionSpec(int seed) {
        return ConditionSpec.newBuilder()
                .setName("prefix_trunc_generated_" + seed)
                .setGroup("truncated")
                .setPlacement(Placement.PREFIX_TRUNCATED)
                .setSurrogate("boiling point water")
                .setSurrogateKind("generated")
                .setRopeCorrection(RopeCorrection.INTERLEAVED)
                .setKeepBos(false)
                .setDocumentTemplate("Document: {passage}")
                .setSeparator(" | ")
                .setQueryTemplate("\nQ: {query}\nA:")
                .setQueryFreeTemplate("\nA:")
                .setAnswerTemplate(" {answer}.")
                .setQueryFree(true)
                .setCaptureAttention(true)
                .setRequiresFamily("llama")
                .setQuerySimilarity(0.5 + seed / 1000.0)
                .setSurrogateTemplate("target_question")
                .setSurrogateGenerator("mistral-7b-instruct")
                .build();
    }

    public static ExperimentMeta experimentMeta(int seed) {
        return ExperimentMeta.newBuilder()
                .setBaseline("bare")
                .setOracle("oracle")
                .setContrasts(List.of(new ConditionPair("gen_vs_shuffled", "generated", "shuffled")))
                .setCorrelations(List.of(new ConditionPair("gen~shuffled", "generated", "shuffled")))
                .setPlannedSamples(100 + seed)
                .setPlannedConditions(8)
                .build();
    }

    public static WorkItem workItem(int seed) {
        return WorkItem.newBuilder()
                .setExperimentId("exp-" + seed)
                .setPlanHash("sha256:" + Integer.toHexString(seed * 7919))
                .setModel(new ModelRef("mistral-7b", "rev-" + seed))
                .setSample(sample(seed))
                .setConditions(List.of(conditionSpec(seed), ConditionSpec.newBuilder()
                        .setName("bare").setPlacement(Placement.NONE).build()))
                .setMeta(experimentMeta(seed))
                .setProducedAt(1_700_000_000_000L + seed)
                .build();
    }

    public static ScoreRecord scoreRecord(int seed) {
        SegmentShares shares = new SegmentShares(0.1f, 0.2f, 0.3f, 0.15f, 0.2f, 0.05f);
        return ScoreRecord.newBuilder()
                .setExperimentId("exp-" + seed)
                .setSampleId("s" + seed)
                .setCondition("generated")
                .setGroup("truncated")
                .setModel(new ModelRef("mistral-7b", null))
                .setPlanHash("sha256:abc")
                .setNllMean(1.25 + seed)
                .setNllSum(12.5 + seed)
                .setAnswerTokens(10)
                .setTokenLogprobs(List.of(-0.5f, -1.5f, Float.NaN))
                .setSegments(new SegmentTokens(1, 8, 100, 0, 20, 10, 0))
                .setDocumentKvMaxAbsDelta(0.0)
                .setScoreMs(3.5)
                .setWorker("scorer-" + seed)
                .setDevice("cuda:0")
                .setDtype("bfloat16")
                .setAttention(new AttentionShares(List.of(
                        new LayerShares(0, shares, shares),
                        new LayerShares(1, null, shares)), List.of()))
                .setMeta(experimentMeta(seed))
                .setScoredAt(1_700_000_000_123L + seed)
                .build();
    }

    public static StatsSnapshot statsSnapshot(int seed) {
        PairedStats stats = PairedStats.newBuilder()
                .setName("generated").setReference("bare").setN(100 + seed)
                .setMeanDelta(0.12).setSdDelta(0.3).setCi95Lo(0.06).setCi95Hi(0.18).setCohenDz(0.4)
                .setWinRate(0.61).setTieRate(0.0).setTP(1e-4).setWilcoxonP(2e-4)
                .setBonferroniP(8e-4).setHolmP(6e-4).setCsLo(0.01).setCsHi(0.23).setAnytimeP(0.02)
                .setWinCsLo(0.5).setWinCsHi(0.7).setWinAnytimeP(0.03)
                .setQuintileMeanDelta(List.of(0.01, 0.05, 0.1, 0.2, 0.3))
                .setHardN(40).setHardMeanDelta(0.25).setOracleGapShare(0.55).setMeanNll(2.5)
                .build();
        return StatsSnapshot.newBuilder()
                .setExperimentId("exp-" + seed)
                .setProducedAt(1_700_000_001_000L + seed)
                .setRecords(800).setSamples(100).setCompleteSamples(99).setPlannedSamples(100)
                .setPlannedConditions(8).setBaseline("bare").setOracle("oracle")
                .setRecordsPerSecond(250.5).setEtaSeconds(3.2)
                .setConditions(List.of(stats))
                .setContrasts(List.of(stats))
                .setCorrelations(List.of(new Correlation("generated", "shuffled", 100L, 0.924, 0.9)))
                .setAttention(List.of(new AttentionSummary("generated", "answer", "document", List.of(0.3, 0.4))))
                .setFinal$(false)
                .setRanking(new RankingStats(50L, 48L, 500L, 3L, 1L, 10_000,
                        List.of(new RankingCondition("oracle", 49L, 0.85, 47L, 0.61, 0.72)),
                        List.of(new RankingComparison("oracle", "bare", "auc", 47L, 0.02, 0.04, 0.05, 0.045))))
                .build();
    }

    public static DeadLetter deadLetter(int seed) {
        return DeadLetter.newBuilder()
                .setSourceTopic("dkv.work").setSourcePartition(seed % 24).setSourceOffset(1000L + seed)
                .setKey(ByteBuffer.wrap(("exp/s" + seed).getBytes(StandardCharsets.UTF_8)))
                .setValue(ByteBuffer.wrap(new byte[] {(byte) 0xC3, 0x01, 0, (byte) 0xFF}))
                .setStage("decode").setError("org.apache.kafka.common.errors.SerializationException")
                .setMessage("cannot decode WorkItem").setWorker("scorer-" + seed).setFailedAt(1_700_000_002_000L + seed)
                .build();
    }

    public static SurrogateRequest surrogateRequest(int seed) {
        return SurrogateRequest.newBuilder()
                .setExperimentId("exp-" + seed).setSampleId("s" + seed).setPlanHash("h" + seed).setRequestHash("r" + seed)
                .setDocument("Water boils at 100 °C at sea level; ünïcödé ✓ " + seed).setQuery("boiling point " + seed)
                .setGenerator(new ModelRef("mistral-7b-instruct", "rev-" + seed))
                .setTemplates(List.of(new NamedText("target_question", "Write a question.\n\nText: {document}")))
                .setTexts(List.of(new NamedText("static_definitional", "What is this?")))
                .setSettings(new GenerationSettings(30 + seed, 0.7, 0.9, 40, 1000L + seed, false, true))
                .setEmbedder("all-MiniLM-L6-v2")
                .setRequestedAt(1_700_000_003_000L + seed)
                .build();
    }

    public static Surrogate surrogate(int seed) {
        return Surrogate.newBuilder()
                .setExperimentId("exp-" + seed).setSampleId("s" + seed).setName("target_question")
                .setSource(SurrogateSource.GENERATED).setRequestHash("r" + seed)
                .setText("at what temperature does water boil " + seed).setTokens(9).setQuerySimilarity(0.81)
                .setGenerator(new ModelRef("mistral-7b-instruct", null)).setEmbedder("all-MiniLM-L6-v2")
                .setGenerateMs(12.5).setEmbedMs(0.75).setWorker("generator-" + seed).setProducedAt(1_700_000_004_000L + seed)
                .setError("none " + seed).setSimilarityError("none")
                .build();
    }
}
