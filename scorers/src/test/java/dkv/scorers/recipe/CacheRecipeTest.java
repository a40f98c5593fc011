package dkv.scorers.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.ConditionSpec;
import dkv.avro.Placement;
import dkv.avro.RopeCorrection;
import dkv.avro.Sample;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class CacheRecipeTest {

    static ConditionSpec.Builder spec(Placement p) {
        return ConditionSpec.newBuilder().setName("c1").setPlacement(p).setSurrogate("sur");
    }

    @ParameterizedTest
    @EnumSource(value = Placement.class, names = {"PREFIX_LM", "ENCODER_COENCODE", "ENCODER_COENCODE_MASKED"})
    void nonDecoderPlacementsAreRefusedByName(Placement p) {
        var e = assertThrows(UnsupportedConditionException.class, () -> CacheRecipe.of(spec(p).build(), ModelShape.DECODER, "llama"));
        assertTrue(e.getMessage().contains("'c1'") && e.getMessage().contains(p.name()) && e.getMessage().contains("llama"),
                e.getMessage());
    }

    @Test
    void requiredFamilyMustMatch() {
        var e = assertThrows(UnsupportedConditionException.class,
                () -> CacheRecipe.of(spec(Placement.SUFFIX).setRequiresFamily("glm").build(), ModelShape.DECODER, "llama"));
        assertTrue(e.getMessage().contains("'glm'") && e.getMessage().contains("'llama'") && e.getMessage().contains("SUFFIX"),
                e.getMessage());
    }

    @Test
    void truncationCarriesCorrectionAndBos() {
        assertEquals(new CacheRecipe.TruncatedPrefix(RopeCorrection.INTERLEAVED, false), CacheRecipe.of(
                spec(Placement.PREFIX_TRUNCATED).setRopeCorrection(RopeCorrection.INTERLEAVED).setKeepBos(false).build(), ModelShape.DECODER, "llama"));
    }

    @Test
    void segmentTextsFollowTheLayoutRules() {
        Sample s = Sample.newBuilder().setId("s").setDataset("d").setQuery("q?").setPassage("P.").setAnswer("A").build();
        assertEquals(new SegmentTexts("sur\n", "P.", "", "\n\nQuestion: q?\nAnswer:", " A"),
                SegmentTexts.of(spec(Placement.PREFIX_FULL).build(), s));
        assertEquals(new SegmentTexts("", "P.", "\nsur", "\n\nAnswer:", " A"),
                SegmentTexts.of(spec(Placement.SUFFIX).setQueryFree(true).build(), s));
        assertEquals(new SegmentTexts("", "Document: P.", "", "\n\nQuestion: q?\nAnswer:", " A"),
                SegmentTexts.of(spec(Placement.NONE).setDocumentTemplate("Document: {passage}").build(), s));
    }
}
