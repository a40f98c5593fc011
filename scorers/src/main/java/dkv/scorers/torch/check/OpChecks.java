package dkv.scorers.torch.check;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import dkv.scorers.torch.TorchRuntime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.function.BinaryOperator;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * Every runtime op against a plain-Java double-precision reference ({@link HostTensor}) on fresh random
 * inputs, contiguous and not (transposed views, narrowed views with a storage offset). The JUnit test runs
 * it on CPU; {@code ops/gpu/torch-check.sh} runs the same class on a CUDA machine:
 *
 * <pre>java -cp "$DKV_LIB/*" dkv.scorers.torch.check.OpChecks --device cuda:0 --dtype float32,bfloat16</pre>
 *
 * The error of a result is normwise: max |got − ref| / max |ref| (integer and exact results: any difference
 * fails). Tolerances: float32 1e-5, float16 1e-3, bfloat16 1e-2. Inputs are rounded to the dtype on the
 * device first and the reference reads them back, so only the op's own error is measured.
 */
public final class OpChecks {

    /** One comparison: which check, in which dtype, how far off, against what tolerance. */
    public record Outcome(String check, DType dtype, double error, double tolerance, String detail) {
        public boolean passed() {
            return error <= tolerance;
        }

        @Override
        public String toString() {
            return String.format("%-4s %-36s %-8s error %.3e (tol %.0e)%s", passed() ? "ok" : "FAIL", check, dtype,
                    error, tolerance, detail.isEmpty() ? "" : "  " + detail);
        }
    }

    enum Layout { CONTIGUOUS, TRANSPOSED, NARROWED }

    /** A device tensor and the exact values it holds. */
    private record Input(Tensor tensor, HostTensor host) {
    }

    private final Device device;
    private final Random random;
    private final List<Outcome> outcomes = new ArrayList<>();
    private DType dtype;

    public OpChecks(Device device, long seed) {
        this.device = device;
        this.random = new Random(seed);
    }

    public static double tolerance(DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> 1e-5;
            case FLOAT16 -> 1e-3;
            case BFLOAT16 -> 1e-2;
            default -> throw new IllegalArgumentException("no tolerance for " + dtype);
        };
    }

    /** Runs every check in {@code dtype}; returns the outcomes (all tensors freed). */
    public List<Outcome> run(DType floatType) {
        start(floatType);
        elementwise();
        reductionsAndSoftmax();
        linearAlgebra();
        indexing();
        viewsAndCopies();
        attention();
        return List.copyOf(outcomes);
    }

    /** Begins a run in {@code floatType}, forgetting earlier outcomes. */
    void start(DType floatType) {
        this.dtype = floatType;
        outcomes.clear();
    }

    List<Outcome> outcomes() {
        return List.copyOf(outcomes);
    }

    // ------------------------------------------------------------------------------------------------
    // inputs

    private double normal() {
        return random.nextGaussian();
    }

    private double positive() {
        return 0.25 + 2 * random.nextDouble();
    }

    /** Values in ±[0.5, 2]: safe divisors. */
    private double awayFromZero() {
        double v = 0.5 + 1.5 * random.nextDouble();
        return random.nextBoolean() ? v : -v;
    }

    private Input input(Layout layout, java.util.function.DoubleSupplier gen, long... shape) {
        int n = (int) HostTensor.numel(shape);
        double[] logical = new double[n];
        for (int i = 0; i < n; i++) {
            logical[i] = gen.getAsDouble();
        }
        HostTensor want = new HostTensor(logical, shape);
        Tensor view = switch (layout) {
            case CONTIGUOUS -> onDevice(want);
            case TRANSPOSED -> Ops.transpose(onDevice(want.transposeLast2()), -2, -1);
            case NARROWED -> {
                long[] wide = shape.clone();
                int last = shape.length - 1;
                wide[last] = 2 * shape[last];
                double[] garbage = new double[n];
                for (int i = 0; i < n; i++) {
                    garbage[i] = 1e3 * gen.getAsDouble();
                }
                HostTensor both = HostTensor.cat(last, new HostTensor(garbage, shape), want);
                yield Ops.narrow(onDevice(both), last, shape[last], shape[last]);
            }
        };
        return new Input(view, new HostTensor(Tensors.toDoubleArray(view), shape));
    }

    private Input input(java.util.function.DoubleSupplier gen, long... shape) {
        return input(Layout.CONTIGUOUS, gen, shape);
    }

    /** Float values → a contiguous tensor of the current dtype on the device. */
    private Tensor onDevice(HostTensor h) {
        float[] f = new float[h.data().length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) h.data()[i];
        }
        return Ops.to(Tensors.fromFloats(f, h.shape()), dtype, device);
    }

    private Input ids(int bound, long... shape) {
        long[] v = new long[(int) HostTensor.numel(shape)];
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = random.nextInt(bound);
            d[i] = v[i];
        }
        return new Input(Ops.to(Tensors.fromLongs(v, shape), device), new HostTensor(d, shape));
    }

    private Input mask(double pTrue, long... shape) {
        boolean[] b = new boolean[(int) HostTensor.numel(shape)];
        double[] d = new double[b.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = random.nextDouble() < pTrue;
            d[i] = b[i] ? 1 : 0;
        }
        return new Input(Ops.to(Tensors.fromBooleans(b, shape), device), new HostTensor(d, shape));
    }

    // ------------------------------------------------------------------------------------------------
    // comparison

    private void compare(String name, Tensor got, HostTensor want) {
        compare(name, got, want, tolerance(dtype), true);
    }

    private void compare(String name, Tensor got, HostTensor want, double tol, boolean expectDtype) {
        long[] shape = got.shape();
        if (!Arrays.equals(shape, want.shape())) {
            outcomes.add(new Outcome(name, dtype, Double.POSITIVE_INFINITY, tol,
                    "shape " + Arrays.toString(shape) + " != " + Arrays.toString(want.shape())));
            return;
        }
        if (!got.device().equals(device)) {
            outcomes.add(new Outcome(name, dtype, Double.POSITIVE_INFINITY, tol, "on " + got.device()));
            return;
        }
        if (expectDtype && got.dtype() != dtype) {
            outcomes.add(new Outcome(name, dtype, Double.POSITIVE_INFINITY, tol, "dtype " + got.dtype()));
            return;
        }
        double[] g = Tensors.toDoubleArray(got);
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < g.length; i++) {
            double diff = Math.abs(g[i] - want.data()[i]);
            if (Double.isNaN(diff)) {
                diff = (Double.isNaN(g[i]) && Double.isNaN(want.data()[i])) || g[i] == want.data()[i]
                        ? 0 : Double.POSITIVE_INFINITY;
            }
            maxDiff = Math.max(maxDiff, diff);
            if (Double.isFinite(want.data()[i])) {
                maxRef = Math.max(maxRef, Math.abs(want.data()[i]));
            }
        }
        double error = tol == 0 ? maxDiff : maxDiff / Math.max(maxRef, Double.MIN_NORMAL);
        outcomes.add(new Outcome(name, dtype, error, tol, ""));
    }

    private void exact(String name, Tensor got, HostTensor want) {
        compare(name, got, want, 0, false);
    }

    // ------------------------------------------------------------------------------------------------
    // the checks

    void unary(String name, UnaryOperator<Tensor> op, DoubleUnaryOperator ref,
                       java.util.function.DoubleSupplier gen) {
        for (Layout layout : Layout.values()) {
            try (TensorScope ignored = TensorScope.open()) {
                Input x = input(layout, gen, 3, 5, 8);
                compare(name + "[" + layout.name().toLowerCase() + "]", op.apply(x.tensor), x.host.map(ref));
            }
        }
    }

    void binary(String name, BinaryOperator<Tensor> op, DoubleBinaryOperator ref,
                        java.util.function.DoubleSupplier genB) {
        for (Layout layout : Layout.values()) {
            try (TensorScope ignored = TensorScope.open()) {
                Input a = input(layout, this::normal, 3, 5, 8);
                Input b = input(Layout.values()[(layout.ordinal() + 1) % 3], genB, 3, 5, 8);
                compare(name + "[" + layout.name().toLowerCase() + "]", op.apply(a.tensor, b.tensor),
                        HostTensor.zip(a.host, b.host, ref));
            }
        }
        try (TensorScope ignored = TensorScope.open()) {
            Input a = input(Layout.TRANSPOSED, this::normal, 3, 5, 8);
            Input b = input(genB, 5, 1);
            compare(name + "[broadcast]", op.apply(a.tensor, b.tensor), HostTensor.zip(a.host, b.host, ref));
        }
    }

    private void elementwise() {
        binary("add", Ops::add, Double::sum, this::normal);
        binary("sub", Ops::sub, (x, y) -> x - y, this::normal);
        binary("mul", Ops::mul, (x, y) -> x * y, this::normal);
        binary("div", Ops::div, (x, y) -> x / y, this::awayFromZero);
        unary("add(scalar)", x -> Ops.add(x, 0.75), x -> x + 0.75, this::normal);
        unary("mul(scalar)", x -> Ops.mul(x, -1.5), x -> x * -1.5, this::normal);
        unary("square", Ops::square, x -> x * x, this::normal);
        unary("abs", Ops::abs, Math::abs, this::normal);
        unary("rsqrt", Ops::rsqrt, x -> 1 / Math.sqrt(x), this::positive);
        unary("tanh", Ops::tanh, Math::tanh, this::normal);
        unary("cos", Ops::cos, Math::cos, this::normal);
        unary("sin", Ops::sin, Math::sin, this::normal);
        unary("silu", Ops::silu, x -> x / (1 + Math.exp(-x)), this::normal);
        unary("geluTanh", Ops::geluTanh,
                x -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))), this::normal);
        unary("erf", Ops::erf, OpChecks::erf, this::normal);
        unary("gelu", Ops::gelu, x -> 0.5 * x * (1 + erf(x / Math.sqrt(2))), this::normal);
        try (TensorScope ignored = TensorScope.open()) {
            Input x = input(Layout.NARROWED, this::normal, 4, 6);
            Input m = mask(0.5, 4, 6);
            Input y = input(Layout.TRANSPOSED, this::normal, 4, 6);
            compare("where", Ops.where(m.tensor, x.tensor, y.tensor), HostTensor.where(m.host, x.host, y.host));
        }
    }

    /**
     * erf in double precision for the references (Java has none): the series 2x/√π·e^(−x²)·Σ (2x²)ⁿ/(1·3···(2n+1))
     * (Abramowitz–Stegun 7.1.6), whose terms are all positive, so nothing cancels; |erf| is 1 within 1e-16 past 6.
     */
    static double erf(double x) {
        double a = Math.abs(x);
        if (a > 6) return Math.signum(x);
        double term = 1;
        double sum = 1;
        for (int n = 1; term > 1e-17 * sum; n++) {
            term *= 2 * a * a / (2 * n + 1);
            sum += term;
        }
        return Math.signum(x) * 2 * a / Math.sqrt(Math.PI) * Math.exp(-a * a) * sum;
    }

    /** RMS ({@code centre} false) or layer normalisation of each last-dim row in double, then weight and bias if given. */
    static HostTensor normRows(HostTensor x, HostTensor weight, HostTensor bias, double eps, boolean centre) {
        int n = (int) x.shape()[x.shape().length - 1];
        double[] out = new double[x.data().length];
        for (int row = 0; row < out.length / n; row++) {
            double mean = 0;
            for (int i = 0; i < n; i++) mean += x.data()[row * n + i] / n;
            double shift = centre ? mean : 0;
            double square = 0;
            for (int i = 0; i < n; i++) square += Math.pow(x.data()[row * n + i] - shift, 2) / n;
            for (int i = 0; i < n; i++) {
                double v = (x.data()[row * n + i] - shift) / Math.sqrt(square + eps);
                if (weight != null) v *= weight.data()[i];
                if (bias != null) v += bias.data()[i];
                out[row * n + i] = v;
            }
        }
        return new HostTensor(out, x.shape());
    }

    private void reductionsAndSoftmax() {
        for (Layout layout : Layout.values()) {
            String tag = "[" + layout.name().toLowerCase() + "]";
            try (TensorScope ignored = TensorScope.open()) {
                Input x = input(layout, this::normal, 3, 4, 40);
                compare("meanLastDim(keepDim)" + tag, Ops.meanLastDim(x.tensor, true), x.host.reduceLast("mean"));
                compare("meanLastDim" + tag, Ops.meanLastDim(x.tensor, false), x.host.reduceLast("mean").reshape(3, 4));
                compare("max" + tag, Ops.max(x.tensor, -1, true), x.host.reduceLast("max"));
                exact("argmax" + tag, Ops.argmax(x.tensor, -1, false), x.host.reduceLast("argmax").reshape(3, 4));
                compare("softmax(-1)" + tag, Ops.softmax(x.tensor, -1), x.host.softmax(-1));
                compare("softmax(1)" + tag, Ops.softmax(x.tensor, 1), x.host.softmax(1));
                compare("logSoftmax(-1)" + tag, Ops.logSoftmax(x.tensor, -1), x.host.logSoftmax(-1));
                Input w = input(this::normal, 40);
                Input b = input(this::normal, 40);
                compare("rmsNorm" + tag, Ops.rmsNorm(x.tensor, null, 1e-6), normRows(x.host, null, null, 1e-6, false));
                compare("rmsNorm(weight)" + tag, Ops.rmsNorm(x.tensor, w.tensor, 1e-6), normRows(x.host, w.host, null, 1e-6, false));
                compare("layerNorm" + tag, Ops.layerNorm(x.tensor, null, null, 1e-5), normRows(x.host, null, null, 1e-5, true));
                compare("layerNorm(weight, bias)" + tag, Ops.layerNorm(x.tensor, w.tensor, b.tensor, 1e-5),
                        normRows(x.host, w.host, b.host, 1e-5, true));
            }
        }
    }

    private void linearAlgebra() {
        for (Layout layout : Layout.values()) {
            String tag = "[" + layout.name().toLowerCase() + "]";
            try (TensorScope ignored = TensorScope.open()) {
                Input a = input(layout, this::normal, 2, 6, 32);
                Input b = input(Layout.values()[(layout.ordinal() + 2) % 3], this::normal, 2, 32, 5);
                compare("matmul(batched)" + tag, Ops.matmul(a.tensor, b.tensor), HostTensor.matmul(a.host, b.host));
                Input w = input(layout, this::normal, 7, 32);
                compare("matmul(broadcast)" + tag, Ops.matmul(a.tensor, Ops.transpose(w.tensor, 0, 1)),
                        HostTensor.matmul(a.host, w.host.transposeLast2()));
                compare("linear" + tag, Ops.linear(a.tensor, w.tensor), HostTensor.matmul(a.host, w.host.transposeLast2()));
                Input bias = input(this::normal, 7);
                compare("linear(bias)" + tag, Ops.linear(a.tensor, w.tensor, bias.tensor),
                        HostTensor.zip(HostTensor.matmul(a.host, w.host.transposeLast2()), bias.host, Double::sum));
            }
        }
    }

    private void indexing() {
        try (TensorScope ignored = TensorScope.open()) {
            Input table = input(Layout.NARROWED, this::normal, 11, 8);
            Input ids = ids(11, 2, 5);
            compare("embedding", Ops.embedding(table.tensor, ids.tensor), table.host.embedding(ids.host));
            Input rows = ids(11, 4);
            compare("indexSelect(0)", Ops.indexSelect(table.tensor, 0, rows.tensor), table.host.embedding(rows.host));
            Input cols = ids(8, 3);
            compare("indexSelect(1)", Ops.indexSelect(table.tensor, 1, cols.tensor),
                    table.host.transposeLast2().embedding(cols.host).transposeLast2());
            Input idx = ids(8, 11, 3);
            compare("gather(-1)", Ops.gather(table.tensor, -1, idx.tensor), table.host.gather(1, idx.host));
            Input a = input(this::normal, 2, 3, 4);
            Input b = input(Layout.TRANSPOSED, this::normal, 2, 5, 4);
            Input c = input(Layout.NARROWED, this::normal, 2, 1, 4);
            compare("cat(1)", Ops.cat(1, a.tensor, b.tensor, c.tensor), HostTensor.cat(1, a.host, b.host, c.host));
            compare("cat(-1)", Ops.cat(-1, a.tensor, a.tensor), HostTensor.cat(2, a.host, a.host));
            // more pieces than one shim call takes: e.g. every answer row of a large scoring batch
            int many = 2 * Ops.CAT_CHUNK + 7;
            Tensor[] pieces = new Tensor[many];
            HostTensor[] hostPieces = new HostTensor[many];
            for (int i = 0; i < many; i++) {
                pieces[i] = i % 2 == 0 ? a.tensor : c.tensor;
                hostPieces[i] = i % 2 == 0 ? a.host : c.host;
            }
            compare("cat(1) of " + many, Ops.cat(1, pieces), HostTensor.cat(1, hostPieces));
        }
    }

    private void viewsAndCopies() {
        double exactTol = 0;
        try (TensorScope ignored = TensorScope.open()) {
            Input x = input(Layout.NARROWED, this::normal, 2, 3, 4, 5);
            compare("narrow", Ops.narrow(x.tensor, 2, 1, 2), x.host.narrow(2, 1, 2), exactTol, true);
            compare("select", Ops.select(x.tensor, 1, 2), x.host.narrow(1, 2, 1).reshape(2, 4, 5), exactTol, true);
            compare("permute", Ops.permute(x.tensor, 2, 0, 3, 1), x.host.permute(2, 0, 3, 1), exactTol, true);
            compare("transpose", Ops.transpose(x.tensor, 0, 2), x.host.permute(2, 1, 0, 3), exactTol, true);
            compare("reshape(copy)", Ops.reshape(x.tensor, 6, -1), x.host.reshape(6, 20), exactTol, true);
            Tensor p = Ops.permute(x.tensor, 1, 0, 2, 3);
            compare("reshape(copy of permuted)", Ops.reshape(p, 6, 20), x.host.permute(1, 0, 2, 3).reshape(6, 20),
                    exactTol, true);
            Tensor c = Ops.contiguous(x.tensor);
            compare("contiguous", c, x.host, exactTol, true);
            compare("reshape(view)", Ops.reshape(c, 3, 2, 20), x.host.reshape(3, 2, 20), exactTol, true);
            Input kv = input(Layout.NARROWED, this::normal, 2, 2, 3, 4);
            compare("repeatKvHeads", Ops.repeatKvHeads(kv.tensor, 3), repeatHeads(kv.host, 3), exactTol, true);
            Tensor dst = onDevice(new HostTensor(new double[240], new long[]{2, 3, 4, 10}));
            Ops.copyInto(Ops.narrow(dst, 3, 5, 5), x.tensor);
            compare("copyInto(view)", dst,
                    HostTensor.cat(3, new HostTensor(new double[120], new long[]{2, 3, 4, 5}), x.host), exactTol, true);
        }
        try (TensorScope ignored = TensorScope.open()) {
            float[] f = new float[64];
            double[] bf = new double[64];
            double[] half = new double[64];
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) (normal() * Math.pow(10, random.nextInt(7) - 3));
                bf[i] = roundToBfloat16(f[i]);
                half[i] = Float.float16ToFloat(Float.floatToFloat16(f[i]));
            }
            Tensor src = Ops.to(Tensors.fromFloats(f, 8, 8), device);
            exact("to(bfloat16)", Ops.to(src, DType.BFLOAT16), new HostTensor(bf, new long[]{8, 8}));
            exact("to(float16)", Ops.to(src, DType.FLOAT16), new HostTensor(half, new long[]{8, 8}));
            double[] back = new double[64];
            for (int i = 0; i < 64; i++) {
                back[i] = f[i];
            }
            exact("to(cpu)->to(device)", Ops.to(Ops.to(src, Device.cpu()), device), new HostTensor(back, new long[]{8, 8}));
            // queued (pinned, non-blocking) uploads, many in flight with their host sources freed at once: each
            // must still arrive whole (the caching host allocator keeps a staging block until its copy ran). On
            // CUDA a queue of long matmuls goes first so the copies are still waiting when their sources are freed
            // and refilled; on the CPU an upload is a plain copy and this only checks the values.
            if (device.isCuda()) {
                try (TensorScope _ = TensorScope.open()) {
                    float[] col = new float[4096];
                    Arrays.fill(col, 1f / 64);
                    Tensor c = Ops.to(Tensors.fromFloats(col, 4096, 1), device);
                    Tensor busy = Ops.matmul(c, Ops.transpose(c, 0, 1));  // 4096² of 1/4096
                    for (int i = 0; i < 16; i++) busy = Ops.matmul(busy, busy);
                }
            }
            List<Tensor> uploads = new ArrayList<>();
            List<double[]> sent = new ArrayList<>();
            for (int k = 0; k < 16; k++) {
                double[] now = new double[64];
                for (int i = 0; i < 64; i++) now[i] = f[i];
                sent.add(now);
                try (Tensor host = Tensors.fromFloats(f, 8, 8)) {
                    uploads.add(Ops.upload(host, device));
                }
                f[k] *= -2;  // the next upload differs, while this one may still be in flight
            }
            for (int k = 0; k < 16; k++) exact("upload#" + k, uploads.get(k), new HostTensor(sent.get(k), new long[]{8, 8}));
        }
        if (!device.isCuda()) {
            try (Arena arena = Arena.ofConfined(); TensorScope ignored = TensorScope.open()) {
                MemorySegment blob = arena.allocate(JAVA_FLOAT, 12);
                double[] want = new double[12];
                for (int i = 0; i < 12; i++) {
                    float v = (float) normal();
                    blob.setAtIndex(JAVA_FLOAT, i, v);
                    want[i] = v;
                }
                Tensor t = Tensors.fromBlob(blob, DType.FLOAT32, 3, 4);
                compare("fromBlob", Ops.mul(t, 1.0), new HostTensor(want, new long[]{3, 4}), 0, false);
            }
        }
    }

    private static HostTensor repeatHeads(HostTensor kv, int groups) {
        int b = kv.size(0);
        int h = kv.size(1);
        HostTensor[] parts = new HostTensor[h * groups];
        for (int i = 0; i < h; i++) {
            for (int g = 0; g < groups; g++) {
                parts[i * groups + g] = kv.narrow(1, i, 1);
            }
        }
        return b == 0 ? kv : HostTensor.cat(1, parts);
    }

    /** float → bfloat16 → float with round-to-nearest-even (finite inputs). */
    static double roundToBfloat16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int rounded = (bits + 0x7FFF + ((bits >>> 16) & 1)) & 0xFFFF0000;
        return Float.intBitsToFloat(rounded);
    }

    private void attention() {
        long b = 2;
        long h = 3;
        long lq = 5;
        long lk = 7;
        long d = 16;
        double scale = 1 / Math.sqrt(d) * 1.3;
        for (Layout layout : Layout.values()) {
            String tag = "[" + layout.name().toLowerCase() + "]";
            try (TensorScope ignored = TensorScope.open()) {
                Input q = input(layout, this::normal, b, h, lq, d);
                Input k = input(Layout.values()[(layout.ordinal() + 1) % 3], this::normal, b, h, lk, d);
                Input v = input(Layout.values()[(layout.ordinal() + 2) % 3], this::normal, b, h, lk, d);
                Input kc = input(layout, this::normal, b, h, lq, d);
                Input vc = input(layout, this::normal, b, h, lq, d);
                compare("sdpa(no mask)" + tag, Ops.sdpa(q.tensor, k.tensor, v.tensor, null, false, scale),
                        HostTensor.attention(q.host, k.host, v.host, null, false, false, scale)[0]);
                compare("sdpa(causal)" + tag, Ops.sdpa(q.tensor, kc.tensor, vc.tensor, null, true, scale),
                        HostTensor.attention(q.host, kc.host, vc.host, null, false, true, scale)[0]);
                Input m = prefixMask(lq, lk);
                compare("sdpa(bool mask)" + tag, Ops.sdpa(q.tensor, k.tensor, v.tensor, m.tensor, false, scale),
                        HostTensor.attention(q.host, k.host, v.host, m.host, false, false, scale)[0]);
                Input additive = input(this::normal, lq, lk);
                compare("sdpa(float mask)" + tag, Ops.sdpa(q.tensor, k.tensor, v.tensor, additive.tensor, false, scale),
                        HostTensor.attention(q.host, k.host, v.host, additive.host, true, false, scale)[0]);
                Tensor additive64 = Ops.to(additive.tensor, DType.FLOAT64);
                compare("sdpa(float64 mask)" + tag, Ops.sdpa(q.tensor, k.tensor, v.tensor, additive64, false, scale),
                        HostTensor.attention(q.host, k.host, v.host, additive.host, true, false, scale)[0]);
                // grouped: 2 query heads per kv head, folded into the query axis under a mask, repeated without one
                Input qg = input(layout, this::normal, b, 2 * h, lq, d);
                Tensor mask4 = Ops.reshape(m.tensor, 1, 1, lq, lk);
                compare("groupedSdpa(bool mask)" + tag, Ops.groupedSdpa(qg.tensor, k.tensor, v.tensor, mask4, false, scale),
                        HostTensor.attention(qg.host, repeatHeads(k.host, 2), repeatHeads(v.host, 2), m.host, false, false, scale)[0]);
                Input qgc = input(layout, this::normal, b, 2 * h, lq, d);
                compare("groupedSdpa(causal)" + tag, Ops.groupedSdpa(qgc.tensor, kc.tensor, vc.tensor, null, true, scale),
                        HostTensor.attention(qgc.host, repeatHeads(kc.host, 2), repeatHeads(vc.host, 2), null, false, true, scale)[0]);
                Ops.Attention explicit = Ops.attentionWithProbs(q.tensor, k.tensor, v.tensor, m.tensor, scale);
                HostTensor[] want = HostTensor.attention(q.host, k.host, v.host, m.host, false, false, scale);
                compare("attentionWithProbs.output" + tag, explicit.output(), want[0]);
                compare("attentionWithProbs.probs" + tag, explicit.probabilities(), want[1], tolerance(dtype), false);
            }
        }
    }

    /** A KV-cache style mask: query i (at position lk-lq+i) sees keys 0..lk-lq+i. */
    private Input prefixMask(long lq, long lk) {
        boolean[] m = new boolean[(int) (lq * lk)];
        double[] d = new double[m.length];
        for (int i = 0; i < lq; i++) {
            for (int j = 0; j < lk; j++) {
                m[(int) (i * lk + j)] = j <= lk - lq + i;
                d[(int) (i * lk + j)] = m[(int) (i * lk + j)] ? 1 : 0;
            }
        }
        return new Input(Ops.to(Tensors.fromBooleans(m, lq, lk), device), new HostTensor(d, new long[]{lq, lk}));
    }

    // ------------------------------------------------------------------------------------------------

    /**
     * {@code --device cpu|cuda:N} {@code --dtype float32,bfloat16} {@code --libtorch DIR} {@code --seed N}
     * {@code --threads N}. Prints one line per check and exits 1 when any fails or a handle leaked.
     */
    public static void main(String[] args) {
        Device device = Device.cpu();
        List<DType> dtypes = List.of(DType.FLOAT32, DType.BFLOAT16);
        Optional<Path> lib = Optional.empty();
        long seed = System.nanoTime();
        int threads = 0;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--device" -> device = Device.parse(require(value, "--device"));
                case "--dtype" -> dtypes = Arrays.stream(require(value, "--dtype").split(",")).map(DType::parse).toList();
                case "--libtorch" -> lib = Optional.of(Path.of(require(value, "--libtorch")));
                case "--seed" -> seed = Long.parseLong(require(value, "--seed"));
                case "--threads" -> threads = Integer.parseInt(require(value, "--threads"));
                default -> {
                    System.err.println("unknown option " + args[i]
                            + " (use --device, --dtype, --libtorch, --seed, --threads)");
                    System.exit(2);
                }
            }
            i++;
        }
        TorchRuntime runtime;
        try {
            runtime = TorchRuntime.loadFor(device, lib, threads);
        } catch (dkv.scorers.torch.TorchException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(2);
            return;
        }
        System.out.println(runtime.describe());
        System.out.println("op checks on " + device + ", seed " + seed);
        long before = Tensor.liveHandles();
        OpChecks checks = new OpChecks(device, seed);
        int failures = 0;
        int total = 0;
        for (DType dt : dtypes) {
            for (Outcome o : checks.run(dt)) {
                System.out.println(o);
                total++;
                if (!o.passed()) {
                    failures++;
                }
            }
        }
        long leaked = Tensor.liveHandles() - before;
        System.out.printf("%d checks, %d failed, %d tensor handles leaked%n", total, failures, leaked);
        System.exit(failures == 0 && leaked == 0 ? 0 : 1);
    }

    private static String require(String value, String option) {
        if (value == null) {
            System.err.println(option + " needs a value");
            System.exit(2);
        }
        return value;
    }
}
