package dkv.scorers.score;

import dkv.scorers.model.KvCache;
import dkv.scorers.model.PrefixSharing;
import dkv.scorers.torch.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The prefills of one document text that conditions share: the bare BOS·DOC (a prefix LM's DOC·[gMASK]·&lt;sop&gt;;
 * also the reference of the document K/V check) and every distinct head a condition asked to share (e.g. a truncated condition's BOS·PREFIX·DOC). Which
 * one a condition may reuse follows the model's {@link PrefixSharing} rule.
 */
final class SharedPrefills {

    /**
     * One prefill's cache; its time is split among the conditions that used it. {@code lastLogits}: the next-token
     * logits [1, vocab] of its last row where the continuation needs them (a prefix LM's {@code <sop>}), else null.
     */
    static final class Prefill {
        final int[] ids;
        final KvCache cache;
        final Tensor lastLogits;
        final double millis;
        int users;

        Prefill(int[] ids, KvCache cache, Tensor lastLogits, double millis) {
            this.ids = ids;
            this.cache = cache;
            this.lastLogits = lastLogits;
            this.millis = millis;
        }

        /** Entries [0, length) for one more user. */
        KvCache use(int length) {
            users++;
            return cache.view(0, length);
        }

        double millisPerUser() {
            return users == 0 ? 0 : millis / users;
        }
    }

    private final int bos;
    private final int closing;
    private final PrefixSharing sharing;
    private final Prefill bare;
    private final List<Prefill> all = new ArrayList<>();

    /** {@code bos}, {@code closing}: special tokens the tokenizer puts before and after the bare document's text. */
    SharedPrefills(int bos, int closing, PrefixSharing sharing, Prefill bare) {
        this.bos = bos;
        this.closing = closing;
        this.sharing = sharing;
        this.bare = bare;
        all.add(bare);
    }

    void add(Prefill p) {
        all.add(p);
    }

    int bos() {
        return bos;
    }

    /** Tokens after the bare document's text in its ids (a prefix LM's {@code [gMASK] <sop>}). */
    int closing() {
        return closing;
    }

    Prefill bare() {
        return bare;
    }

    /**
     * The prefill a sequence of {@code ids} can start from and how many of its entries: the longest common prefix
     * (causal models), or only a prefill whose ids all begin {@code ids} (bidirectional regions); null when none.
     */
    Reuse reusableFor(int[] ids) {
        Prefill best = null;
        int bestLength = 0;
        for (Prefill p : all) {
            int n = commonPrefix(ids, p.ids);
            boolean allowed = sharing == PrefixSharing.LONGEST_COMMON_PREFIX || n == p.ids.length;
            if (allowed && n > bestLength) {
                best = p;
                bestLength = n;
            }
        }
        return best == null ? null : new Reuse(best, bestLength);
    }

    record Reuse(Prefill prefill, int length) {}

    /** The prefill of exactly these ids, or null. */
    Prefill exactly(int[] ids) {
        for (Prefill p : all) if (Arrays.equals(p.ids, ids)) return p;
        return null;
    }

    static int commonPrefix(int[] a, int[] b) {
        int n = Math.min(a.length, b.length);
        int i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }
}
