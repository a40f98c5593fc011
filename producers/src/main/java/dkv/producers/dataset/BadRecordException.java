package dkv.producers.dataset;

/** A dataset record that cannot become a Sample; the message names file:line and the field. */
public final class BadRecordException extends RuntimeException {
    private final String file;
    private final long line;
    private final String field;

    public BadRecordException(String file, long line, String field, String problem) {
        super(file + ":" + line + ": field '" + field + "': " + problem);
        this.file = file;
        this.line = line;
        this.field = field;
    }

    public String file() {
        return file;
    }

    public long line() {
        return line;
    }

    public String field() {
        return field;
    }
}
