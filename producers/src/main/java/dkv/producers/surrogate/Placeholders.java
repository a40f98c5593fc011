package dkv.producers.surrogate;

import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** {@code {name}} placeholders in surrogate templates, checked when the plan loads and filled per sample. */
final class Placeholders {
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([a-z_]+)}");

    private Placeholders() {}

    static void check(String template, Set<String> allowed, String path) {
        Matcher m = PLACEHOLDER.matcher(template);
        while (m.find()) {
            if (!allowed.contains(m.group(1))) {
                throw new IllegalArgumentException(path + ".surrogate: unknown placeholder {" + m.group(1)
                        + "} (this kind fills " + allowed.stream().sorted().map(n -> "{" + n + "}").toList() + ")");
            }
        }
    }

    static String fill(String template, Map<String, String> values) {
        Matcher m = PLACEHOLDER.matcher(template);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String value = values.get(m.group(1));
            m.appendReplacement(out, Matcher.quoteReplacement(value == null ? m.group() : value));
        }
        m.appendTail(out);
        return out.toString();
    }
}
