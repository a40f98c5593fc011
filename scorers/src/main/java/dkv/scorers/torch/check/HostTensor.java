package dkv.scorers.torch.check;

import java.util.Arrays;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;

/**
 * A row-major array of doubles with a shape: the plain-Java reference side of {@link OpChecks}. Every
 * reference op here is the textbook definition in double precision, written independently of libtorch.
 */
public record HostTensor(double[] data, long[] shape) {

    public HostTensor {
        if (numel(shape) != data.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " vs " + data.length + " values");
        }
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        return n;
    }

    int rank() {
        return shape.length;
    }

    int size(int dim) {
        return (int) shape[dim < 0 ? dim + shape.length : dim];
    }

    static int[] strides(long[] shape) {
        int[] st = new int[shape.length];
        int s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = s;
            s *= (int) shape[i];
        }
        return st;
    }

    /** Multi-index of flat position {@code flat} in {@code shape}. */
    static int[] unravel(int flat, long[] shape) {
        int[] idx = new int[shape.length];
        for (int i = shape.length - 1; i >= 0; i--) {
            idx[i] = (int) (flat % shape[i]);
            flat /= (int) shape[i];
        }
        return idx;
    }

    /** Flat position of the element broadcast onto index {@code idx} of a result of rank idx.length. */
    private int broadcastFlat(int[] idx) {
        int[] st = strides(shape);
        int lead = idx.length - shape.length;
        int flat = 0;
        for (int i = 0; i < shape.length; i++) {
            int j = shape[i] == 1 ? 0 : idx[i + lead];
            flat += j * st[i];
        }
        return flat;
    }

    static long[] broadcastShape(long[] a, long[] b) {
        int n = Math.max(a.length, b.length);
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            long x = i - (n - a.length) >= 0 ? a[i - (n - a.length)] : 1;
            long y = i - (n - b.length) >= 0 ? b[i - (n - b.length)] : 1;
            if (x != y && x != 1 && y != 1) {
                throw new IllegalArgumentException("shapes do not broadcast: " + Arrays.toString(a) + " " + Arrays.toString(b));
            }
            out[i] = Math.max(x, y);
        }
        return out;
    }

    public HostTensor map(DoubleUnaryOperator f) {
        double[] out = new double[data.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = f.applyAsDouble(data[i]);
        }
        return new HostTensor(out, shape);
    }

    public static HostTensor zip(HostTensor a, HostTensor b, DoubleBinaryOperator f) {
        long[] shape = broadcastShape(a.shape, b.shape);
        double[] out = new double[(int) numel(shape)];
        for (int i = 0; i < out.length; i++) {
            int[] idx = unravel(i, shape);
            out[i] = f.applyAsDouble(a.data[a.broadcastFlat(idx)], b.data[b.broadcastFlat(idx)]);
        }
        return new HostTensor(out, shape);
    }

    /** {@code cond != 0 ? a : b} with broadcasting. */
    public static HostTensor where(HostTensor cond, HostTensor a, HostTensor b) {
        long[] shape = broadcastShape(broadcastShape(cond.shape, a.shape), b.shape);
        double[] out = new double[(int) numel(shape)];
        for (int i = 0; i < out.length; i++) {
            int[] idx = unravel(i, shape);
            out[i] = cond.data[cond.broadcastFlat(idx)] != 0 ? a.data[a.broadcastFlat(idx)] : b.data[b.broadcastFlat(idx)];
        }
        return new HostTensor(out, shape);
    }

    /** Result dim i = input dim dims[i]. */
    public HostTensor permute(int... dims) {
        long[] outShape = new long[dims.length];
        for (int i = 0; i < dims.length; i++) {
            outShape[i] = shape[dims[i]];
        }
        int[] st = strides(shape);
        double[] out = new double[data.length];
        for (int i = 0; i < out.length; i++) {
            int[] idx = unravel(i, outShape);
            int flat = 0;
            for (int j = 0; j < dims.length; j++) {
                flat += idx[j] * st[dims[j]];
            }
            out[i] = data[flat];
        }
        return new HostTensor(out, outShape);
    }

    public HostTensor transposeLast2() {
        int[] dims = new int[rank()];
        for (int i = 0; i < dims.length; i++) {
            dims[i] = i;
        }
        dims[rank() - 1] = rank() - 2;
        dims[rank() - 2] = rank() - 1;
        return permute(dims);
    }

    public HostTensor reshape(long... newShape) {
        return new HostTensor(data.clone(), newShape);
    }

    /** Elements start..start+length-1 along dim. */
    public HostTensor narrow(int dim, int start, int length) {
        long[] outShape = shape.clone();
        outShape[dim] = length;
        int[] st = strides(shape);
        double[] out = new double[(int) numel(outShape)];
        for (int i = 0; i < out.length; i++) {
            int[] idx = unravel(i, outShape);
            idx[dim] += start;
            int flat = 0;
            for (int j = 0; j < idx.length; j++) {
                flat += idx[j] * st[j];
            }
            out[i] = data[flat];
        }
        return new HostTensor(out, outShape);
    }

    public static HostTensor cat(int dim, HostTensor... parts) {
        long[] outShape = parts[0].shape.clone();
        outShape[dim] = 0;
        for (HostTensor p : parts) {
            outShape[dim] += p.shape[dim];
        }
        double[] out = new double[(int) numel(outShape)];
        for (int i = 0; i < out.length; i++) {
            int[] idx = unravel(i, outShape);
            int k = idx[dim];
            int part = 0;
            while (k >= parts[part].shape[dim]) {
                k -= (int) parts[part].shape[dim];
                part++;
            }
            idx[dim] = k;
            int[] st = strides(parts[part].shape);
            int flat = 0;
            for (int j = 0; j < idx.length; j++) {
                flat += idx[j] * st[j];
            }
            out[i] = parts[part].data[flat];
        }
        return new HostTensor(out, outShape);
    }

    /** [..., M, K] x [..., K, N] with broadcast batch dims (both operands of rank >= 2). */
    public static HostTensor matmul(HostTensor a, HostTensor b) {
        int m = a.size(-2);
        int k = a.size(-1);
        int n = b.size(-1);
        if (b.size(-2) != k) {
            throw new IllegalArgumentException("matmul inner dims " + k + " vs " + b.size(-2));
        }
        long[] aBatch = Arrays.copyOf(a.shape, a.rank() - 2);
        long[] bBatch = Arrays.copyOf(b.shape, b.rank() - 2);
        long[] batch = broadcastShape(aBatch, bBatch);
        long[] outShape = Arrays.copyOf(batch, batch.length + 2);
        outShape[batch.length] = m;
        outShape[batch.length + 1] = n;
        HostTensor aB = new HostTensor(new double[(int) numel(aBatch)], aBatch);
        HostTensor bB = new HostTensor(new double[(int) numel(bBatch)], bBatch);
        double[] out = new double[(int) numel(outShape)];
        int batches = (int) numel(batch);
        for (int bi = 0; bi < batches; bi++) {
            int[] idx = unravel(bi, batch);
            int aOff = aB.broadcastFlat(idx) * m * k;
            int bOff = bB.broadcastFlat(idx) * k * n;
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) {
                        s += a.data[aOff + i * k + p] * b.data[bOff + p * n + j];
                    }
                    out[bi * m * n + i * n + j] = s;
                }
            }
        }
        return new HostTensor(out, outShape);
    }

    /** Applies {@code f} to every 1-d fibre along {@code dim}; f returns a fibre of the same length. */
    private HostTensor alongDim(int dim, java.util.function.UnaryOperator<double[]> f) {
        int d = dim < 0 ? dim + rank() : dim;
        int[] st = strides(shape);
        int len = (int) shape[d];
        double[] out = new double[data.length];
        for (int i = 0; i < data.length; i++) {
            if (unravel(i, shape)[d] != 0) {
                continue;
            }
            double[] fibre = new double[len];
            for (int j = 0; j < len; j++) {
                fibre[j] = data[i + j * st[d]];
            }
            double[] r = f.apply(fibre);
            for (int j = 0; j < len; j++) {
                out[i + j * st[d]] = r[j];
            }
        }
        return new HostTensor(out, shape);
    }

    public HostTensor softmax(int dim) {
        return alongDim(dim, x -> {
            double max = Arrays.stream(x).max().orElseThrow();
            double sum = 0;
            double[] e = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                e[i] = Math.exp(x[i] - max);
                sum += e[i];
            }
            for (int i = 0; i < x.length; i++) {
                e[i] /= sum;
            }
            return e;
        });
    }

    public HostTensor logSoftmax(int dim) {
        return alongDim(dim, x -> {
            double max = Arrays.stream(x).max().orElseThrow();
            double sum = 0;
            for (double v : x) {
                sum += Math.exp(v - max);
            }
            double lse = max + Math.log(sum);
            double[] r = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                r[i] = x[i] - lse;
            }
            return r;
        });
    }

    /** Reduction over the last dim (keepdim): kind = sum, mean, max, argmax. */
    public HostTensor reduceLast(String kind) {
        int n = size(-1);
        int rows = data.length / n;
        double[] out = new double[rows];
        for (int r = 0; r < rows; r++) {
            double sum = 0;
            double max = Double.NEGATIVE_INFINITY;
            int arg = 0;
            for (int j = 0; j < n; j++) {
                double v = data[r * n + j];
                sum += v;
                if (v > max) {
                    max = v;
                    arg = j;
                }
            }
            out[r] = switch (kind) {
                case "sum" -> sum;
                case "mean" -> sum / n;
                case "max" -> max;
                case "argmax" -> arg;
                default -> throw new IllegalArgumentException(kind);
            };
        }
        long[] outShape = shape.clone();
        outShape[rank() - 1] = 1;
        return new HostTensor(out, outShape);
    }

    /** Rows of this [V, H] table at integer ids of any shape → ids.shape + [H]. */
    public HostTensor embedding(HostTensor ids) {
        int h = size(1);
        long[] outShape = Arrays.copyOf(ids.shape, ids.rank() + 1);
        outShape[ids.rank()] = h;
        double[] out = new double[(int) numel(outShape)];
        for (int i = 0; i < ids.data.length; i++) {
            System.arraycopy(data, (int) ids.data[i] * h, out, i * h, h);
        }
        return new HostTensor(out, outShape);
    }

    /** torch.gather along dim: out[idx] = this[idx with idx[dim] replaced by index[idx]]. */
    public HostTensor gather(int dim, HostTensor index) {
        int[] st = strides(shape);
        double[] out = new double[index.data.length];
        for (int i = 0; i < out.length; i++) {
            int[] idx = unravel(i, index.shape);
            idx[dim] = (int) index.data[i];
            int flat = 0;
            for (int j = 0; j < idx.length; j++) {
                flat += idx[j] * st[j];
            }
            out[i] = data[flat];
        }
        return new HostTensor(out, index.shape);
    }

    /**
     * Attention over [B, H, Lq, D] x [B, H, Lk, D] x [B, H, Lk, Dv]; mask [Lq, Lk] either boolean (1 = may
     * attend; pass additive=false) or additive. Returns {output, probabilities}.
     */
    public static HostTensor[] attention(HostTensor q, HostTensor k, HostTensor v, HostTensor mask,
                                         boolean additive, boolean causal, double scale) {
        HostTensor scores = zip(matmul(q, k.transposeLast2()), new HostTensor(new double[]{scale}, new long[]{1}),
                (x, s) -> x * s);
        int lq = q.size(-2);
        int lk = k.size(-2);
        double[] s = scores.data.clone();
        for (int i = 0; i < s.length; i++) {
            int row = (i / lk) % lq;
            int col = i % lk;
            if (causal && col > row) {
                s[i] = Double.NEGATIVE_INFINITY;
            }
            if (mask != null) {
                double m = mask.data[row * lk + col];
                s[i] = additive ? s[i] + m : (m != 0 ? s[i] : Double.NEGATIVE_INFINITY);
            }
        }
        HostTensor probs = new HostTensor(s, scores.shape).softmax(-1);
        return new HostTensor[]{matmul(probs, v), probs};
    }
}
