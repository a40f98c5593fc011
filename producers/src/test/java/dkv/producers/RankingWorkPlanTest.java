package dkv.producers;

import static dkv.producers.WorkPlanTest.resource;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.Candidate;
import dkv.avro.ScoreTarget;
import dkv.avro.WorkItem;
import dkv.producers.dataset.Dataset;
import dkv.producers.dataset.DatasetFormat;
import dkv.producers.dataset.ReaderOptions;
import dkv.producers.plan.Plan;
import dkv.producers.surrogate.GeneratorResources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Ranking plans applied to datasets: candidates in WorkItems, the target, the cap, and mismatches refused early. */
class RankingWorkPlanTest {
    static final Dataset MS_MARCO = new Dataset(resource("/datasets/msmarco_v11.jsonl"), DatasetFormat.MSMARCO_JSONL,
            ReaderOptions.defaults());

    static Plan plan(String extra) {
        return Plan.parse("{\"experiment_id\": \"r\", \"model\": \"tiny\"" + extra + ", \"conditions\": [{\"name\": \"bare\"},"
                + " {\"name\": \"oracle\", \"placement\": \"PREFIX_TRUNCATED\", \"surrogate_kind\": \"oracle\"}]}",
                "r.json", "r", Path.of("."));
    }

    static WorkPlan prepare(Plan plan, Dataset dataset) {
        return WorkPlan.prepare(plan, dataset, GeneratorResources.none(), Optional.empty(), Optional.empty(), () -> 1L);
    }

    static List<KeyedWork> items(WorkPlan work) {
        return work.items().collectList().block();
    }

    /** Three WANDS queries with 5, 2 and 1 candidates. */
    static Dataset wands(Path dir) throws IOException {
        Files.writeString(dir.resolve("product.csv"), "product_id\tproduct_name\tproduct_class\tcategory hierarchy\t"
                + "product_description\n" + String.join("", java.util.stream.IntStream.range(0, 5)
                .mapToObj(i -> i + "\tproduct " + i + "\tc\th\tdescription " + i + "\n").toList()));
        Files.writeString(dir.resolve("query.csv"), "query_id\tquery\tquery_class\n0\tsofa\tc\n1\tbed\tc\n2\tlamp\tc\n");
        StringBuilder labels = new StringBuilder("id\tquery_id\tproduct_id\tlabel\n");
        int id = 0;
        for (int p = 0; p < 5; p++) {
            labels.append(id++).append("\t0\t").append(p).append(p == 0 ? "\tExact\n" : "\tIrrelevant\n");
        }
        labels.append(id++).append("\t1\t0\tPartial\n").append(id++).append("\t1\t1\tExact\n").append(id).append("\t2\t3\tExact\n");
        Files.writeString(dir.resolve("label.csv"), labels);
        return Dataset.of(dir, Optional.empty(), ReaderOptions.defaults());
    }

    @Test
    void aRankingPlanPutsEveryPassageIntoTheWorkItem() {
        WorkPlan work = prepare(plan(", \"ranking\": true"), MS_MARCO);
        List<KeyedWork> items = items(work);
        assertEquals(List.of("r/19699", "r/19702", "r/19703"), items.stream().map(KeyedWork::key).toList());
        WorkItem rba = items.getFirst().item();
        assertEquals(List.of("p0", "p1", "p2"), rba.getSample().getCandidates().stream().map(Candidate::getId).toList());
        assertEquals(List.of(0.0, 1.0, 0.0), rba.getSample().getCandidates().stream().map(Candidate::getRelevance).toList());
        assertEquals(ScoreTarget.ANSWER, rba.getConditions().get(1).getTarget());
        assertEquals(3, rba.getMeta().getPlannedSamples(), "planned samples count queries");
        assertEquals(3, work.plannedItems());
    }

    @Test
    void queriesOverTheCapAreSplitIntoItemsOfTheSameQuery(@TempDir Path dir) throws IOException {
        WorkPlan work = prepare(plan(", \"target\": \"QUERY\", \"ranking\": {\"max_candidates\": 2}"), wands(dir));
        List<KeyedWork> items = items(work);
        assertEquals(List.of("r/0#1", "r/0#2", "r/0#3", "r/1", "r/2"), items.stream().map(KeyedWork::key).toList());
        assertEquals(List.of("0", "0", "0", "1", "2"), items.stream().map(k -> k.item().getSample().getId()).toList());
        assertEquals(List.of(2, 2, 1, 2, 1), items.stream().map(k -> k.item().getSample().getCandidates().size()).toList());
        assertEquals(List.of("0", "1", "2", "3", "4"), items.subList(0, 3).stream()
                .flatMap(k -> k.item().getSample().getCandidates().stream()).map(Candidate::getId).toList());
        assertEquals(3, work.planned());
        assertEquals(5, work.plannedItems());
        assertTrue(items.stream().allMatch(k -> k.item().getConditions().stream().allMatch(c -> c.getTarget() == ScoreTarget.QUERY)));
        assertEquals("oracle", items.getFirst().item().getConditions().get(1).getName());
        assertEquals("sofa", items.getFirst().item().getConditions().get(1).getSurrogate(), "the same surrogate in every part");
        assertEquals("sofa", items.get(2).item().getConditions().get(1).getSurrogate());
    }

    @Test
    void refusedCapsAndMismatchesFailBeforeTheFirstItem(@TempDir Path dir) throws IOException {
        Dataset wands = wands(dir);
        IllegalArgumentException over = assertThrows(IllegalArgumentException.class, () -> prepare(
                plan(", \"target\": \"QUERY\", \"ranking\": {\"max_candidates\": 4, \"over_cap\": \"refuse\"}"), wands));
        assertEquals("r.json: query '0' has 5 candidates, more than ranking.max_candidates 4 (over_cap refuse; raise the"
                + " cap or use over_cap split)", over.getMessage());
        IllegalArgumentException noRanking = assertThrows(IllegalArgumentException.class,
                () -> prepare(plan(", \"target\": \"QUERY\""), wands));
        assertEquals("r.json: sample '0' of dataset 'wands' is a ranking query (5 candidates): add \"ranking\": true to the plan",
                noRanking.getMessage());
        IllegalArgumentException noAnswer = assertThrows(IllegalArgumentException.class,
                () -> prepare(plan(", \"ranking\": true"), wands));
        assertEquals("r.json: sample '0' of dataset 'wands' has no answer, but conditions [bare, oracle] score the answer:"
                + " give them \"target\": \"QUERY\" (query likelihood)", noAnswer.getMessage());
        Dataset generic = new Dataset(resource("/datasets/generic_broken.jsonl"), DatasetFormat.GENERIC_JSONL,
                ReaderOptions.defaults().withSkipBad(true));
        IllegalArgumentException noCandidates = assertThrows(IllegalArgumentException.class,
                () -> prepare(plan(", \"ranking\": true"), generic));
        assertTrue(noCandidates.getMessage().startsWith("r.json: a ranking plan, but sample 'g1' of dataset 'generic_broken'"
                + " has no candidates"), noCandidates.getMessage());
    }

    @Test
    void thePlansDatasetFiltersApplyUnderTheCallers() {
        Plan filtered = plan(", \"ranking\": true, \"dataset_filters\": {\"split\": \"test\", \"small_version\": 1}");
        Dataset cli = new Dataset(Path.of("x"), DatasetFormat.ESCI, ReaderOptions.defaults().withFilters(Map.of("split", "dev")));
        Dataset effective = WorkPlan.forPlan(filtered, cli);
        assertEquals(Map.of("split", "dev", "small_version", "1"), effective.options().filters());
        assertTrue(effective.options().ranking());
        assertEquals(false, WorkPlan.forPlan(plan(""), cli).options().ranking());
    }
}
