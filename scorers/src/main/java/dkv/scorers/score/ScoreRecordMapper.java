package dkv.scorers.score;

import dkv.avro.Sample;
import dkv.avro.ScoreRecord;
import dkv.avro.SegmentTokens;
import dkv.schemas.SegmentFields;
import dkv.scorers.recipe.Segment;
import dkv.scorers.recipe.SequenceLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds each condition's {@link ScoreRecord} once, with everything it carries: the item's experiment fields (from
 * the WorkItem, or the options when scoring offline), the scores, the segment counts of every stream (through
 * {@link SegmentFields}, the one segment ↔ field mapping), timing and provenance.
 */
final class ScoreRecordMapper {

    private final String device;
    private final String dtype;

    ScoreRecordMapper(String device, String dtype) {
        this.device = device;
        this.dtype = dtype;
    }

    ScoreRecord record(RecordContext context, Sample sample, ConditionPlan p, ConditionScore s, double millis, ScoreOptions options) {
        List<Float> tokenLogprobs = null;
        if (options.tokenLogprobs()) {
            tokenLogprobs = new ArrayList<>();
            for (double lp : s.answer().logprobs()) tokenLogprobs.add((float) lp);
        }
        ScoreRecord.Builder b = ScoreRecord.newBuilder()
                .setExperimentId(context.experimentId())
                .setSampleId(sample.getId())
                .setCondition(p.spec().getName())
                .setGroup(p.spec().getGroup())
                .setModel(context.model())
                .setPlanHash(context.planHash())
                .setNllMean(s.answer().nllMean())
                .setNllSum(s.answer().nllSum())
                .setAnswerTokens(s.answer().tokens())
                .setTokenLogprobs(tokenLogprobs)
                .setSegments(tokens(p.layout()))
                .setEncoderSegments(p.encoder() == null ? null : tokens(p.encoder()))
                .setDocumentKvMaxAbsDelta(s.documentKvDelta())
                .setScoreMs(millis)
                .setWorker(options.worker())
                .setDevice(device)
                .setDtype(dtype)
                .setAttention(s.attention())
                .setMeta(context.meta())
                .setScoredAt(System.currentTimeMillis())
                .setTarget(p.spec().getTarget())
                .setQuerySimilarity(p.spec().getQuerySimilarity());
        if (context.candidate() != null) {
            b.setQueryId(sample.getId()).setCandidateId(context.candidate().getId()).setRelevance(context.candidate().getRelevance());
        }
        return b.build();
    }

    /** A stream's segment counts as the record carries them. */
    static SegmentTokens tokens(SequenceLayout layout) {
        return SegmentFields.tokens(field -> {
            Segment s = Segment.ofField(field);
            return s == null ? 0 : layout.length(s);
        });
    }
}
