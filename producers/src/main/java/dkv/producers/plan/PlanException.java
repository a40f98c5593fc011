package dkv.producers.plan;

/** A plan that cannot be used; the message names the plan file and the JSON path of the problem. */
public final class PlanException extends IllegalArgumentException {
    public PlanException(String source, String path, String problem) {
        super(source + ": " + path + ": " + problem);
    }

    public PlanException(String source, String problem) {
        super(source + ": " + problem);
    }
}
