package dkv.scorers.score;

import dkv.scorers.model.EncoderMemory;
import dkv.scorers.model.Seq2SeqLm;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An encoder-decoder call's encoder work: one pass per distinct encoder input, all inputs of the call batched within
 * the options' row and token budgets. Conditions with the same input read one memory: the unmasked and masked
 * co-encode conditions of a surrogate, and a masked condition with an empty prefix and the bare one. Memories live
 * in the scope open when {@link #run} is called (the call's), until the call ends.
 */
final class EncoderPasses {

    /** One encoder input's memory; its time is split among the conditions that read it. */
    static final class Pass {
        final int[] ids;
        EncoderMemory memory;
        double millis;
        int users;

        Pass(int[] ids) {
            this.ids = ids;
        }

        double millisPerUser() {
            return users == 0 ? 0 : millis / users;
        }
    }

    private EncoderPasses() {
    }

    /** Encodes every job's distinct input (longest first, in the batches {@link BatchPlanner} picks) and hands each job its pass. */
    static void run(Seq2SeqLm model, List<EncoderDecoderJob> jobs, ScoreOptions options) {
        Map<Key, Pass> passes = new LinkedHashMap<>();
        for (EncoderDecoderJob job : jobs) passes.computeIfAbsent(new Key(job.encoderIds()), k -> new Pass(k.ids()));
        List<Pass> order = new ArrayList<>(passes.values());
        order.sort(Comparator.<Pass>comparingInt(p -> p.ids.length).reversed());
        int[] widths = order.stream().mapToInt(p -> p.ids.length).toArray();
        int from = 0;
        for (int rows : BatchPlanner.plan(widths, options.maxBatch(), options.maxTokens())) {
            List<Pass> chunk = order.subList(from, from + rows);
            long t0 = System.nanoTime();
            List<EncoderMemory> memories = model.encode(chunk.stream().map(p -> p.ids).toList());
            double share = (System.nanoTime() - t0) / 1e6 / rows;
            for (int k = 0; k < rows; k++) {
                chunk.get(k).memory = memories.get(k);
                chunk.get(k).millis = share;
            }
            from += rows;
        }
        for (EncoderDecoderJob job : jobs) job.read(passes.get(new Key(job.encoderIds())));
    }

    /** Token ids compared by content. */
    private record Key(int[] ids) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && Arrays.equals(ids, k.ids);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(ids);
        }
    }
}
