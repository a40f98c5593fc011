package dkv.producers.corpus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dkv.avro.Sample;
import dkv.producers.Seeds;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class CorpusTest {
    static Sample sample(int i) {
        return Sample.newBuilder().setId("id" + i).setDataset("d").setQuery("query " + i).setPassage("passage " + i)
                .setAnswer("a").setPassages(List.of()).setQueryType(null).setExtra(Map.of()).build();
    }

    @Test
    void termsDropStopWordsPossessivesAndNumbers() {
        assertEquals(List.of("australia", "central", "bank", "rba", "also", "founded"),
                Terms.of("Australia's central bank is the RBA; it was also founded in 1960, and what's more: a."));
    }

    @Test
    void selectionIsTheSmallestSeededHashesWhateverTheOrder() {
        List<Sample> samples = IntStream.range(0, 200).mapToObj(CorpusTest::sample).toList();
        List<Sample> shuffled = new ArrayList<>(samples);
        Collections.shuffle(shuffled, new Random(3));
        SeededSelection inOrder = new SeededSelection(42, 10);
        SeededSelection outOfOrder = new SeededSelection(42, 10);
        samples.forEach(inOrder::offer);
        shuffled.forEach(outOfOrder::offer);
        List<String> expected = samples.stream().map(Sample::getId)
                .sorted(Comparator.comparingLong(id -> Seeds.derive(42, "sample", id))).limit(10).toList();
        assertEquals(expected, inOrder.selected().stream().map(Sample::getId).toList());
        assertEquals(expected, outOfOrder.selected().stream().map(Sample::getId).toList());
        SeededSelection otherSeed = new SeededSelection(43, 10);
        samples.forEach(otherSeed::offer);
        assertNotEquals(expected, otherSeed.selected().stream().map(Sample::getId).toList());
    }

    @Test
    void donorPoolIsBoundedOrderFreeAndNeverLendsToItself() {
        DonorPool a = new DonorPool(42, 16);
        DonorPool b = new DonorPool(42, 16);
        List<Sample> samples = IntStream.range(0, 100).mapToObj(CorpusTest::sample).toList();
        samples.forEach(a::offer);
        samples.reversed().forEach(b::offer);
        assertEquals(16, a.size());
        for (Sample s : samples) {
            DonorPool.Donor fromA = a.pick(s.getId(), new SplittableRandom(7));
            assertEquals(fromA, b.pick(s.getId(), new SplittableRandom(7)));
            assertNotEquals(s.getId(), fromA.id());
        }
        DonorPool lonely = new DonorPool(42, 4);
        lonely.offer(sample(1));
        assertThrows(IllegalStateException.class, () -> lonely.pick("id1", new SplittableRandom(1)));
    }
}
