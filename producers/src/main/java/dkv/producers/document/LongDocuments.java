package dkv.producers.document;

import dkv.avro.Passage;
import dkv.avro.Sample;
import dkv.producers.corpus.DonorPool;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Documents of a target length in tokens for the long-document experiments (v3 exp 03): the sample's scored
 * passage, then its other passages in their order (the non-selected ones, for MS MARCO), then passages of other
 * samples drawn from the donor pool until the target is reached, joined by a blank line and cut where a token
 * ends. MS MARCO's ten passages hold about a thousand tokens, so targets of 2048 and more need the donors. One
 * sample's documents for different targets come from one passage sequence: each is a prefix of the longer ones,
 * so only the length differs between them.
 */
public final class LongDocuments {
    public static final String SEPARATOR = "\n\n";

    private final DocumentTokenizer tokenizer;

    public LongDocuments(DocumentTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /**
     * The sample's passages (and donors', drawn with {@code random}) joined until they reach {@code tokens}; not yet
     * cut, so {@link #cut} can take every shorter target from it.
     */
    public String source(Sample sample, int tokens, DonorPool donors, SplittableRandom random) {
        List<String> parts = new ArrayList<>();
        parts.add(sample.getPassage());
        for (Passage p : sample.getPassages()) {
            if (!p.getText().equals(sample.getPassage()) && !p.getText().isBlank()) {
                parts.add(p.getText());
            }
        }
        String text = String.join(SEPARATOR, parts);
        Set<String> used = new HashSet<>(List.of(sample.getId()));
        int attempts = 0;
        while (tokenizer.count(text) < tokens) {
            if (donors.size() == 0 || attempts++ > 4 * donors.size()) {
                throw new IllegalStateException("sample '" + sample.getId() + "': its passages and "
                        + (used.size() - 1) + " other samples' hold " + tokenizer.count(text) + " tokens, fewer than the "
                        + tokens + " a condition asks for");
            }
            DonorPool.Donor donor = donors.pick(sample.getId(), random);
            if (used.add(donor.id()) && !donor.passage().isBlank()) {
                text = text + SEPARATOR + donor.passage();
            }
        }
        return text;
    }

    /** The first {@code tokens} tokens of a {@link #source}. */
    public String cut(String source, int tokens) {
        return tokenizer.prefix(source, tokens);
    }

    public int count(String text) {
        return tokenizer.count(text);
    }
}
