package dkv.scorers.worker;

/** A WorkItem asks for a model other than the one this worker serves; the worker dead-letters it. */
public final class ModelMismatchException extends IllegalArgumentException {
    public ModelMismatchException(String message) {
        super(message);
    }
}
