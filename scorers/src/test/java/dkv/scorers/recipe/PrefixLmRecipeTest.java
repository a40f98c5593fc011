package dkv.scorers.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.ConditionSpec;
import dkv.avro.Placement;
import dkv.avro.RopeCorrection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** What each placement means for a prefix LM (DESIGN.md "Prefix-LM layout"). */
class PrefixLmRecipeTest {

    static ConditionSpec.Builder spec(Placement p) {
        return ConditionSpec.newBuilder().setName("c1").setPlacement(p).setSurrogate("sur");
    }

    @ParameterizedTest
    @EnumSource(value = Placement.class, names = {"NONE", "PREFIX_FULL", "SUFFIX"})
    void wholePromptPlacementsContinueTheirPrompt(Placement p) {
        assertEquals(new CacheRecipe.PromptContinuation(), CacheRecipe.of(spec(p).build(), ModelShape.PREFIX_LM, "glm"));
    }

    @ParameterizedTest
    @EnumSource(value = RopeCorrection.class, names = {"HALF_SPLIT", "NONE"})
    void truncationCarriesItsCorrection(RopeCorrection c) {
        assertEquals(new CacheRecipe.TruncatedPrompt(c), CacheRecipe.of(spec(Placement.PREFIX_TRUNCATED).setRopeCorrection(c)
                .setRequiresFamily("glm").build(), ModelShape.PREFIX_LM, "glm"));
    }

    @Test
    void interleavedPairsAndTheOldPlacementNameAreRefusedByName() {
        var e = assertThrows(UnsupportedConditionException.class, () -> CacheRecipe.of(spec(Placement.PREFIX_TRUNCATED)
                .setRopeCorrection(RopeCorrection.INTERLEAVED).build(), ModelShape.PREFIX_LM, "glm"));
        assertTrue(e.getMessage().contains("'c1'") && e.getMessage().contains("INTERLEAVED") && e.getMessage().contains("HALF_SPLIT"),
                e.getMessage());
        e = assertThrows(UnsupportedConditionException.class, () -> CacheRecipe.of(spec(Placement.PREFIX_LM).build(), ModelShape.PREFIX_LM, "glm"));
        assertTrue(e.getMessage().contains("PREFIX_LM") && e.getMessage().contains("placement SUFFIX"), e.getMessage());
        for (Placement p : new Placement[] {Placement.ENCODER_COENCODE, Placement.ENCODER_COENCODE_MASKED}) {
            e = assertThrows(UnsupportedConditionException.class, () -> CacheRecipe.of(spec(p).build(), ModelShape.PREFIX_LM, "glm"));
            assertTrue(e.getMessage().contains(p.name()) && e.getMessage().contains("'glm'"), e.getMessage());
        }
    }
}
