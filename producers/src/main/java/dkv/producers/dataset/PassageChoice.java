package dkv.producers.dataset;

import dkv.producers.Seeds;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;

/** Which of a query's candidate passages becomes the scored document. */
public enum PassageChoice {
    /** the first passage marked is_selected (the one the answer was written from); samples without one are skipped */
    SELECTED,
    /** the first listed passage, selected or not */
    FIRST,
    /** a passage drawn uniformly with a random stream seeded by (seed, sample id) */
    RANDOM;

    public static PassageChoice parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown passage choice '" + text + "' (expected selected, first or random)");
        }
    }

    /** Index of the chosen passage among {@code selected} flags, or empty when none qualifies. */
    public OptionalInt choose(List<Boolean> selected, long seed, String sampleId) {
        if (selected.isEmpty()) {
            return OptionalInt.empty();
        }
        return switch (this) {
            case SELECTED -> {
                int index = selected.indexOf(Boolean.TRUE);
                yield index < 0 ? OptionalInt.empty() : OptionalInt.of(index);
            }
            case FIRST -> OptionalInt.of(0);
            case RANDOM -> OptionalInt.of(Seeds.random(seed, "passage", sampleId).nextInt(selected.size()));
        };
    }
}
