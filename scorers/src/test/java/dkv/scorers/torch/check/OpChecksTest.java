package dkv.scorers.torch.check;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TorchRuntime;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every op against the double-precision reference on CPU, on fresh random inputs each run. */
class OpChecksTest {

    @BeforeAll
    static void loadRuntime() {
        TorchRuntime.load(Optional.empty()).setNumThreads(1);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT32", "BFLOAT16", "FLOAT16"})
    void everyOpMatchesTheReference(DType dtype) {
        long seed = System.nanoTime();
        long before = Tensor.liveHandles();
        List<OpChecks.Outcome> outcomes = new OpChecks(Device.cpu(), seed).run(dtype);
        List<OpChecks.Outcome> failed = outcomes.stream().filter(o -> !o.passed()).toList();
        assertTrue(outcomes.size() > 100, "ran " + outcomes.size() + " checks");
        assertTrue(failed.isEmpty(), "seed " + seed + ", failed: " + failed);
        assertEquals(before, Tensor.liveHandles(), "tensor handles leaked by the checks");
    }

    @Test
    void aWrongOpIsReportedAsAFailure() {
        OpChecks checks = new OpChecks(Device.cpu(), System.nanoTime());
        checks.start(DType.FLOAT32);
        checks.binary("add checked against subtraction", Ops::add, (x, y) -> x - y, Math::random);
        checks.unary("tanh checked against a 1e-4 relative error",
                Ops::tanh, x -> Math.tanh(x) * (1 + 1e-4), Math::random);
        assertEquals(7, checks.outcomes().size(), "outcomes: " + checks.outcomes());
        assertTrue(checks.outcomes().stream().noneMatch(OpChecks.Outcome::passed), "outcomes: " + checks.outcomes());
    }
}
