package dkv.producers.dataset;

import com.fasterxml.jackson.core.JacksonException;

/** Jackson's parse errors without the parser's source description, for one-line messages. */
public final class JsonErrors {
    private JsonErrors() {}

    public static String brief(JacksonException e) {
        String message = e.getOriginalMessage();
        return message.replaceAll("\\s*\\(start marker at \\[Source.*", "").replaceAll("\\s*at \\[Source.*", "")
                .replace('\n', ' ').strip();
    }
}
