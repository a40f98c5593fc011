package dkv.scorers.model.glm;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * ChatGLM-6B's text preprocessing around SentencePiece (tokenization_chatglm.py, {@code SPTokenizer._preprocess} and
 * {@code postprocess}): newline → {@code <n>}, tab → {@code <|tab|>}, each run of 2..80 spaces → {@code <|blank_N|>}.
 * SentencePiece's normalizer would otherwise collapse the whitespace that code and layout depend on; the pieces are
 * user-defined symbols in {@code ice_text.model}, so they survive normalization as one token each.
 */
public final class ChatGlmWhitespace {

    /** The longest run one blank token stands for. */
    public static final int MAX_BLANK = 80;

    private static final Pattern MARKER = Pattern.compile("<n>|<\\|tab\\|>|<\\|blank_([1-9][0-9]?)\\|>");

    private ChatGlmWhitespace() {}

    /**
     * The text SentencePiece sees. The published code replaces runs longest first ({@code " " * 80} down to
     * {@code " " * 2}); per run of L spaces that is ⌊L/80⌋ blank_80 tokens, then blank_(L mod 80) when that is ≥ 2,
     * or one plain space when it is 1. Newlines and tabs go one marker each.
     */
    public static String encode(String text) {
        StringBuilder out = new StringBuilder(text.length() + 16);
        int i = 0;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (c == '\n') {
                out.append("<n>");
                i++;
            } else if (c == '\t') {
                out.append("<|tab|>");
                i++;
            } else if (c == ' ') {
                int end = i;
                while (end < text.length() && text.charAt(end) == ' ') end++;
                int run = end - i;
                for (int k = 0; k < run / MAX_BLANK; k++) out.append(blank(MAX_BLANK));
                int rest = run % MAX_BLANK;
                if (rest >= 2) out.append(blank(rest));
                else if (rest == 1) out.append(' ');
                i = end;
            } else {
                out.append(c);
                i++;
            }
        }
        return out.toString();
    }

    /** The inverse on decoded text: the markers become newline, tab and N spaces again (N in 2..80 only). */
    public static String decode(String text) {
        Matcher m = MARKER.matcher(text);
        StringBuilder out = new StringBuilder(text.length());
        while (m.find()) {
            String marker = m.group();
            String replacement;
            if (marker.equals("<n>")) replacement = "\n";
            else if (marker.equals("<|tab|>")) replacement = "\t";
            else {
                int n = Integer.parseInt(m.group(1));
                replacement = n >= 2 && n <= MAX_BLANK ? " ".repeat(n) : marker;
            }
            m.appendReplacement(out, Matcher.quoteReplacement(replacement));
        }
        m.appendTail(out);
        return out.toString();
    }

    static String blank(int n) {
        return "<|blank_" + n + "|>";
    }
}
