package dkv.scorers.torch;

/** Where a tensor lives: {@code cpu} or {@code cuda:N}. */
public record Device(Kind kind, int index) {

    public enum Kind { CPU, CUDA }

    private static final Device CPU = new Device(Kind.CPU, -1);

    public Device {
        if (kind == Kind.CPU && index != -1) {
            throw new IllegalArgumentException("cpu device takes no index, got " + index);
        }
        if (kind == Kind.CUDA && index < 0) {
            throw new IllegalArgumentException("cuda device index must be >= 0, got " + index);
        }
    }

    public static Device cpu() {
        return CPU;
    }

    public static Device cuda(int index) {
        return new Device(Kind.CUDA, index);
    }

    public boolean isCuda() {
        return kind == Kind.CUDA;
    }

    /** Parses {@code cpu}, {@code cuda} (= cuda:0) or {@code cuda:N}. */
    public static Device parse(String text) {
        String t = text.trim().toLowerCase(java.util.Locale.ROOT);
        if (t.equals("cpu")) {
            return CPU;
        }
        if (t.equals("cuda")) {
            return cuda(0);
        }
        if (t.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(t.substring(5)));
            } catch (NumberFormatException e) {
                // falls through to the error below
            }
        }
        throw new IllegalArgumentException("unknown device '" + text + "' (expected cpu, cuda or cuda:N)");
    }

    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:" + index;
    }
}
