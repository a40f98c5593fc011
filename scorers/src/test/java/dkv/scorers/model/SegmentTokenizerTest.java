package dkv.scorers.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dkv.avro.ConditionSpec;
import dkv.avro.Sample;
import dkv.scorers.fixtures.ReferenceFixture;
import dkv.scorers.score.FixtureFile;
import dkv.scorers.recipe.Segment;
import dkv.scorers.recipe.SegmentTexts;
import dkv.scorers.recipe.SequenceLayout;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;
import org.junit.jupiter.api.Test;

/** Segment layouts against the HF `tokenizers` reference written by ops/reference/llama_fixtures.py. */
class SegmentTokenizerTest {

    static final java.util.List<String> NAMES = ReferenceFixture.NAMES;

    @ParameterizedTest
    @FieldSource("NAMES")
    void layoutsMatchTheReferenceTokenization(String name) {
        FixtureFile f = ReferenceFixture.load(name);
        Map<String, Sample> samples = f.samples();
        try (SegmentTokenizer tok = SegmentTokenizer.open(f.dir())) {
            for (var sample : samples.values()) {
                for (ConditionSpec c : f.conditions(sample.getId())) {
                    JsonNode e = f.expected(sample.getId(), c.getName());
                    SequenceLayout layout = tok.layout(SegmentTexts.of(c, sample));
                    int[] ids = new int[e.get("ids").size()];
                    for (int i = 0; i < ids.length; i++) ids[i] = e.get("ids").get(i).asInt();
                    String where = name + " " + sample.getId() + "/" + c.getName();
                    assertArrayEquals(ids, layout.ids(), where);
                    JsonNode seg = e.get("segments");
                    for (Segment s : Segment.values()) {
                        // decoder-only fixtures predate SPECIAL, which only GLM's prompts have
                        int expected = seg.has(s.field()) ? seg.get(s.field()).asInt() : 0;
                        assertEquals(expected, layout.length(s), where + " " + s);
                    }
                }
            }
        }
    }

    @Test
    void bosComesFromTheTokenizersSpecialTokens() {
        try (SegmentTokenizer llama = SegmentTokenizer.open(ReferenceFixture.load("llama").dir());
             SegmentTokenizer qwen = SegmentTokenizer.open(ReferenceFixture.load("qwen2").dir())) {
            assertEquals(1, llama.bosLength());
            assertEquals(0, qwen.bosLength());
        }
    }

    @Test
    void longTextsAreNotTruncated() {
        try (SegmentTokenizer tok = SegmentTokenizer.open(ReferenceFixture.load("llama").dir())) {
            int[] ids = tok.encode("water boils ".repeat(400));
            assertTrue(ids.length > 800, "got " + ids.length + " tokens: DJL's default truncation at 512 is on");
        }
    }

    @Test
    void missingTokenizerIsNamed() {
        var e = assertThrows(IllegalArgumentException.class, () -> SegmentTokenizer.open(Path.of("/nonexistent")));
        assertTrue(e.getMessage().contains("/nonexistent") && e.getMessage().contains("tokenizer.json"), e.getMessage());
    }
}
