package dkv.producers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.producers.dataset.Dataset;
import dkv.producers.dataset.DatasetFormat;
import dkv.producers.dataset.ReaderOptions;
import dkv.producers.plan.Plan;
import dkv.producers.surrogate.GeneratorResources;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class WorkPlanTest {
    static Path resource(String name) {
        try {
            return Path.of(WorkPlanTest.class.getResource(name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static final Dataset DATASET = new Dataset(resource("/datasets/msmarco_v11.jsonl"), DatasetFormat.MSMARCO_JSONL,
            new ReaderOptions(dkv.producers.dataset.PassageChoice.FIRST, 42, false));

    static Plan plan(String samples) {
        return Plan.parse("{\"experiment_id\": \"e\", \"model\": \"tiny\"" + samples + ", \"conditions\": [{\"name\": \"bare\"},"
                + " {\"name\": \"irr\", \"placement\": \"SUFFIX\", \"surrogate_kind\": \"irrelevant\"}]}", "t", "t", Path.of("."));
    }

    static List<String> keys(WorkPlan work) {
        return work.items().map(KeyedWork::key).collectList().block();
    }

    @Test
    void withoutSampleCountStreamsTheFileInOrder() {
        WorkPlan work = WorkPlan.prepare(plan(""), DATASET, GeneratorResources.none(), Optional.empty(), Optional.empty(), () -> 5L);
        assertEquals(4, work.planned());
        assertEquals(List.of("e/19699", "e/19701", "e/19702", "e/19703"), keys(work));
        assertEquals(List.of("e/19699", "e/19701"), keys(WorkPlan.prepare(plan(""), DATASET, GeneratorResources.none(),
                Optional.empty(), Optional.of(2), () -> 5L)));
        KeyedWork first = work.items().blockFirst();
        assertEquals("tiny", first.item().getModel().getId());
        assertEquals(4, first.item().getMeta().getPlannedSamples());
        assertEquals(5L, first.item().getProducedAt());
    }

    @Test
    void seededSelectionIsAPrefixOfTheLargerOne() {
        List<String> three = keys(WorkPlan.prepare(plan(", \"samples\": 3"), DATASET, GeneratorResources.none(),
                Optional.empty(), Optional.empty(), () -> 0L));
        List<String> all = keys(WorkPlan.prepare(plan(", \"samples\": 10"), DATASET, GeneratorResources.none(),
                Optional.empty(), Optional.empty(), () -> 0L));
        List<String> limited = keys(WorkPlan.prepare(plan(", \"samples\": 10"), DATASET, GeneratorResources.none(),
                Optional.empty(), Optional.of(2), () -> 0L));
        assertEquals(3, three.size());
        assertEquals(4, all.size());
        assertEquals(all.subList(0, 3), three);
        assertEquals(all.subList(0, 2), limited);
        // the seeded order: ascending seeded hash of the sample id
        List<String> bySeededHash = List.of("19699", "19701", "19702", "19703").stream()
                .sorted(java.util.Comparator.comparingLong(id -> Seeds.derive(42, "sample", id))).map(id -> "e/" + id).toList();
        assertEquals(bySeededHash, all);
    }

    @Test
    void aPlanWithoutModelNeedsOneFromTheCaller() {
        Plan noModel = Plan.parse("{\"conditions\": [{\"name\": \"bare\"}]}", "t.json", "t", Path.of("."));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WorkPlan.prepare(noModel, DATASET,
                GeneratorResources.none(), Optional.empty(), Optional.empty(), () -> 0L));
        assertTrue(e.getMessage().contains("--model-id"), e.getMessage());
    }

    @Test
    void progressReportsRateAndEta() {
        AtomicLong now = new AtomicLong();
        List<String> lines = new ArrayList<>();
        Progress progress = new Progress(10, Duration.ofSeconds(1), now::get, lines::add);
        for (int i = 0; i < 4; i++) {
            now.addAndGet(500_000_000L);
            progress.advance();
        }
        // reports at t=1s (2 done) and t=2s (4 done): 2/s, 6 left -> 3 s
        assertEquals(List.of("produced 2/10 work items (2.0/s, ETA 4s)", "produced 4/10 work items (2.0/s, ETA 3s)"), lines);
        assertEquals("produced 4/10 work items (2.0/s, ETA 3s)", progress.finish());
        assertEquals("1h01m", Progress.format(Duration.ofSeconds(3660)));
        assertEquals("2m05s", Progress.format(Duration.ofSeconds(125)));
    }
}
