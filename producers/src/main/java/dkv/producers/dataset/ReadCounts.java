package dkv.producers.dataset;

/** What a reader saw: records read, samples emitted, and why the others were dropped. */
public final class ReadCounts {
    private long records;
    private long samples;
    private long noAnswer;
    private long noPassage;
    private long bad;
    private long filtered;
    private BadRecordException firstBad;

    void countRecord() {
        records++;
    }

    void countSample() {
        samples++;
    }

    void countNoAnswer() {
        noAnswer++;
    }

    void countNoPassage() {
        noPassage++;
    }

    /** A sample the reader made and a {@link SampleFilter} dropped: no longer counted as a sample. */
    void countFiltered() {
        samples--;
        filtered++;
    }

    void countBad(BadRecordException e) {
        bad++;
        if (firstBad == null) {
            firstBad = e;
        }
    }

    public long records() {
        return records;
    }

    public long samples() {
        return samples;
    }

    /** records whose answers hold nothing but "No Answer Present." (or nothing at all) */
    public long noAnswer() {
        return noAnswer;
    }

    /** records with no passage that the passage choice accepts */
    public long noPassage() {
        return noPassage;
    }

    /** malformed records skipped under skip-bad */
    public long bad() {
        return bad;
    }

    /** records that became no sample, for any of the reasons above */
    public long skipped() {
        return noAnswer + noPassage + bad;
    }

    /** samples outside the plan's data filter */
    public long filtered() {
        return filtered;
    }

    public BadRecordException firstBad() {
        return firstBad;
    }

    @Override
    public String toString() {
        return records + " records, " + samples + " samples; skipped " + noAnswer + " without answer, " + noPassage
                + " without a usable passage, " + (filtered == 0 ? "" : filtered + " outside the plan's data filter, ") + bad + " malformed"
                + (firstBad == null ? "" : " (first: " + firstBad.getMessage() + ")");
    }
}
