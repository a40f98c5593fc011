package dkv.scorers.model.glm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The run arithmetic against the published longest-first replacement, written out by hand. */
class ChatGlmWhitespaceTest {

    /** tokenization_chatglm.py's _preprocess, literally: sequential str.replace from 80 spaces down to 2. */
    static String published(String text) {
        text = text.replace("\n", "<n>").replace("\t", "<|tab|>");
        for (int i = 80; i > 1; i--) text = text.replace(" ".repeat(i), "<|blank_" + i + "|>");
        return text;
    }

    @Test
    void everyRunLengthMatchesThePublishedReplacement() {
        for (int run = 0; run <= 250; run++) {
            String text = "a" + " ".repeat(run) + "b\t" + " ".repeat(run % 7) + "\n";
            assertEquals(published(text), ChatGlmWhitespace.encode(text), "run " + run);
            assertEquals(text, ChatGlmWhitespace.decode(ChatGlmWhitespace.encode(text)), "round trip, run " + run);
        }
        assertEquals("<|blank_80|><|blank_80|> x", ChatGlmWhitespace.encode(" ".repeat(161) + "x"));
    }

    @Test
    void decodeLeavesWhatThePublishedCodeLeaves() {
        assertEquals("<|blank_1|><|blank_81|><|blank_02|>x  y\n\t",
                ChatGlmWhitespace.decode("<|blank_1|><|blank_81|><|blank_02|>x<|blank_2|>y<n><|tab|>"));
    }
}
