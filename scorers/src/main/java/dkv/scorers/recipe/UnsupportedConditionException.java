package dkv.scorers.recipe;

/** A condition this scorer cannot run (placement or required family); the worker dead-letters it. */
public final class UnsupportedConditionException extends IllegalArgumentException {
    public UnsupportedConditionException(String message) {
        super(message);
    }
}
