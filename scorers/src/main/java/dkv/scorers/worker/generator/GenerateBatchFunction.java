package dkv.scorers.worker.generator;

import dkv.avro.GenerationSettings;
import dkv.avro.ModelRef;
import dkv.avro.NamedText;
import dkv.avro.Surrogate;
import dkv.avro.SurrogateRequest;
import dkv.avro.SurrogateSource;
import dkv.platform.kafka.Outcome;
import dkv.platform.kafka.TransactionalPipeline;
import dkv.schemas.Topics;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The generator's prepare and score stages ({@link TransactionalPipeline}): one poll window of documents awaiting
 * surrogates ({@code dkv.docs}) → {@link Surrogate}s on {@code dkv.surrogates}, keyed {@code experiment/sample/name}.
 * The prepare stage (host work) checks each request and renders its prompts; the score stage writes every template of
 * every valid request in one call of the {@link SurrogateWriter}, post-processes the texts, and embeds them with the
 * request's query in one call of the {@link SurrogateEmbedder}; the cosine similarity of each surrogate to the real
 * query goes into its record.
 *
 * <p>A request that cannot be answered at all (no value, nothing asked, names twice, a template without a generator,
 * another generator model than this worker's, bad settings) is a failed outcome, i.e. a dead letter with the reason.
 * What fails for one surrogate only is that surrogate's reason, and the stream goes on: an empty generation or a
 * prompt the writer refuses sets {@code error}; a missing embedding model, or another one than the request asks for,
 * sets {@code similarity_error}. An exception of the writer or embedder (the runtime failing) propagates: the
 * pipeline stops and the call is re-read by the next worker instead of dead-lettering good requests.
 */
public final class GenerateBatchFunction
        implements TransactionalPipeline.Stages<String, SurrogateRequest, GenerateBatchFunction.Prepared, String, Surrogate> {
    private static final Logger log = LoggerFactory.getLogger(GenerateBatchFunction.class);

    private final Optional<SurrogateWriter> writer;
    private final Optional<SurrogateEmbedder> embedder;
    private final String worker;
    private final Object gate;
    private final LongSupplier clock;
    private final AtomicLong written = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();

    /**
     * @param writer   empty: this worker only embeds (requests with templates are refused)
     * @param embedder empty: surrogates carry {@code similarity_error} instead of a similarity
     * @param gate     writing and embedding run while holding it: workers of one JVM sharing a model pass the same object
     */
    public GenerateBatchFunction(Optional<SurrogateWriter> writer, Optional<SurrogateEmbedder> embedder, String worker,
            Object gate, LongSupplier epochMillis) {
        this.writer = writer;
        this.embedder = embedder;
        this.worker = worker;
        this.gate = gate;
        this.clock = epochMillis;
    }

    /** Surrogates with a text so far. */
    public long written() {
        return written.get();
    }

    /** Surrogates without a text (their {@code error} says why) so far. */
    public long failed() {
        return failed.get();
    }

    /** Requests sent to the dead letters so far. */
    public long refused() {
        return refused.get();
    }

    /** A request that passed {@link #check}, with its prompts' place in the call's one writer call. */
    private record Accepted(SurrogateRequest request, int firstPrompt) {}

    /**
     * A poll's requests checked and the accepted ones' prompts rendered, waiting for the score stage.
     *
     * @param checked per record, {@link Accepted} or the {@link IllegalArgumentException} that refuses it
     */
    record Prepared(List<ConsumerRecord<String, SurrogateRequest>> batch, List<Object> checked, List<SurrogateWriter.Prompt> prompts) {}

    /** The prepare stage (CPU worker threads): every request of the poll checked, every template of the valid ones rendered. */
    @Override
    public Prepared prepare(List<ConsumerRecord<String, SurrogateRequest>> batch) {
        List<Object> checked = new ArrayList<>(batch.size());
        List<SurrogateWriter.Prompt> prompts = new ArrayList<>();
        for (ConsumerRecord<String, SurrogateRequest> record : batch) {
            try {
                SurrogateRequest request = check(record);
                checked.add(new Accepted(request, prompts.size()));
                for (NamedText template : request.getTemplates()) {
                    prompts.add(prompt(request, template));
                }
            } catch (IllegalArgumentException e) {
                checked.add(e);
            }
        }
        return new Prepared(List.copyOf(batch), checked, prompts);
    }

    /**
     * The score stage (the one thread that may use the model): the call's prompts written and its texts embedded while
     * holding the gate; one outcome per record, a refused request's a dead letter.
     */
    @Override
    public List<Outcome<String, Surrogate>> score(Prepared prepared) {
        List<ConsumerRecord<String, SurrogateRequest>> batch = prepared.batch();
        List<Object> checked = prepared.checked();
        List<SurrogateWriter.Prompt> prompts = prepared.prompts();
        List<SurrogateWriter.Written> texts = List.of();
        double generateMs = 0;
        List<Outcome<String, Surrogate>> outcomes = new ArrayList<>(batch.size());
        synchronized (gate) {
            if (!prompts.isEmpty()) {
                long t0 = System.nanoTime();
                texts = writer.orElseThrow().write(prompts);
                generateMs = (System.nanoTime() - t0) / 1e6 / prompts.size();
                if (texts.size() != prompts.size()) {
                    throw new IllegalStateException(writer.get().describe() + " returned " + texts.size() + " texts for "
                            + prompts.size() + " prompts");
                }
            }
            List<List<Surrogate.Builder>> answers = new ArrayList<>();
            for (Object c : checked) {
                answers.add(c instanceof Accepted a ? answers(a, texts, generateMs) : List.of());
            }
            embed(checked, answers);
            for (int i = 0; i < checked.size(); i++) {
                outcomes.add(checked.get(i) instanceof IllegalArgumentException e
                        ? refuse(batch.get(i), e) : produced(answers.get(i)));
            }
        }
        return outcomes;
    }

    /** The request, or why it cannot be answered at all. */
    private SurrogateRequest check(ConsumerRecord<String, SurrogateRequest> record) {
        SurrogateRequest r = record.value();
        String at = "request " + record.topic() + "-" + record.partition() + "@" + record.offset();
        if (r == null) {
            throw new IllegalArgumentException(at + " has no value");
        }
        at = "request " + r.getExperimentId() + "/" + r.getSampleId();
        if (r.getTemplates().isEmpty() && r.getTexts().isEmpty()) {
            throw new IllegalArgumentException(at + " asks for nothing: no templates and no texts");
        }
        Set<String> names = new HashSet<>();
        List<NamedText> all = new ArrayList<>(r.getTemplates());
        all.addAll(r.getTexts());
        for (NamedText t : all) {
            if (t.getName().isBlank() || t.getName().contains("/")) {
                throw new IllegalArgumentException(at + ": name '" + t.getName() + "' must be non-empty and contain no '/'");
            }
            if (!names.add(t.getName())) {
                throw new IllegalArgumentException(at + ": name '" + t.getName() + "' appears twice");
            }
        }
        if (!r.getTemplates().isEmpty()) {
            ModelRef wanted = r.getGenerator();
            if (wanted == null) {
                throw new IllegalArgumentException(at + ": templates but no generator model");
            }
            if (writer.isEmpty()) {
                throw new IllegalArgumentException(at + ": wants generator '" + wanted.getId()
                        + "' but this worker only embeds (start dkv generator with --model)");
            }
            if (!wanted.getId().equals(writer.get().modelId())) {
                throw new IllegalArgumentException(at + ": wants generator '" + wanted.getId() + "' but this worker serves '"
                        + writer.get().modelId() + "' (start one with --model-id " + wanted.getId() + ")");
            }
            checkSettings(at, r.getSettings());
        }
        return r;
    }

    private static void checkSettings(String at, GenerationSettings s) {
        if (s.getMaxNewTokens() < 1) {
            throw new IllegalArgumentException(at + ": settings.max_new_tokens must be at least 1, got " + s.getMaxNewTokens());
        }
        if (!(s.getTemperature() >= 0) || Double.isInfinite(s.getTemperature())) {
            throw new IllegalArgumentException(at + ": settings.temperature must be >= 0, got " + s.getTemperature());
        }
        if (!(s.getTopP() > 0 && s.getTopP() <= 1)) {
            throw new IllegalArgumentException(at + ": settings.top_p must be in (0, 1], got " + s.getTopP());
        }
        if (s.getTopK() < 0) {
            throw new IllegalArgumentException(at + ": settings.top_k must be >= 0, got " + s.getTopK());
        }
    }

    /** The template with the document in place of {@code {document}}, else after it as the research wrote it. */
    static String render(String template, String document) {
        return template.contains("{document}") ? template.replace("{document}", document) : template + "\n\nText: " + document;
    }

    private static SurrogateWriter.Prompt prompt(SurrogateRequest r, NamedText template) {
        return new SurrogateWriter.Prompt(r.getSampleId(), template.getName(), r.getDocument(),
                render(template.getText(), r.getDocument()), r.getSettings(),
                promptSeed(r.getSettings().getSeed(), r.getExperimentId(), r.getSampleId(), template.getName()));
    }

    /** A seed of its own per (settings seed, experiment, sample, template): the first 8 bytes of their SHA-256. */
    static long promptSeed(long seed, String experiment, String sample, String template) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest((seed + "\u0000" + experiment + "\u0000" + sample + "\u0000"
                    + template).getBytes(StandardCharsets.UTF_8));
            long s = 0;
            for (int i = 0; i < 8; i++) s = (s << 8) | (d[i] & 0xff);
            return s;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks SHA-256", e);
        }
    }

    /** The request's surrogates before embedding: generated texts post-processed (empty = an error), given texts as given. */
    private List<Surrogate.Builder> answers(Accepted a, List<SurrogateWriter.Written> texts, double generateMs) {
        SurrogateRequest r = a.request();
        List<Surrogate.Builder> out = new ArrayList<>();
        List<NamedText> templates = r.getTemplates();
        for (int i = 0; i < templates.size(); i++) {
            SurrogateWriter.Written w = texts.get(a.firstPrompt() + i);
            Surrogate.Builder b = base(r, templates.get(i).getName(), SurrogateSource.GENERATED)
                    .setGenerator(r.getGenerator()).setGenerateMs(generateMs);
            if (w.failure() != null) {
                b.setError(w.failure());
            } else {
                String text = PostProcessing.apply(w.text(), r.getSettings());
                if (text.isEmpty()) {
                    b.setError("empty generation" + (w.text() == null || w.text().isBlank() ? ""
                            : " after post-processing (first line, quotes stripped) of " + quoted(w.text())));
                } else {
                    b.setText(text).setTokens(w.newTokens());
                }
            }
            out.add(b);
        }
        for (NamedText given : r.getTexts()) {
            out.add(base(r, given.getName(), SurrogateSource.GIVEN).setText(given.getText()));
        }
        return out;
    }

    private Surrogate.Builder base(SurrogateRequest r, String name, SurrogateSource source) {
        return Surrogate.newBuilder().setExperimentId(r.getExperimentId()).setSampleId(r.getSampleId()).setName(name)
                .setSource(source).setRequestHash(r.getRequestHash()).setWorker(worker);
    }

    /** Every accepted request's query and surrogate texts in one embedder call; similarities (or their reasons) set. */
    private void embed(List<Object> checked, List<List<Surrogate.Builder>> answers) {
        List<String> texts = new ArrayList<>();
        List<int[]> spans = new ArrayList<>(); // per request: index of its query in texts, or -1 when not embedded
        for (int i = 0; i < checked.size(); i++) {
            if (!(checked.get(i) instanceof Accepted a)) {
                spans.add(new int[] {-1});
                continue;
            }
            Optional<String> reason = similarityProblem(a.request());
            if (reason.isPresent()) {
                answers.get(i).forEach(b -> b.setSimilarityError(reason.get()));
                spans.add(new int[] {-1});
                continue;
            }
            spans.add(new int[] {texts.size()});
            texts.add(a.request().getQuery());
            for (Surrogate.Builder b : answers.get(i)) {
                if (b.getText() != null) texts.add(b.getText());
                else b.setSimilarityError("no text to embed");
            }
        }
        if (texts.isEmpty()) {
            return;
        }
        long t0 = System.nanoTime();
        List<float[]> vectors = embedder.orElseThrow().embed(texts);
        double embedMs = (System.nanoTime() - t0) / 1e6 / texts.size();
        if (vectors.size() != texts.size()) {
            throw new IllegalStateException("embedder " + embedder.get().id() + " returned " + vectors.size() + " vectors for "
                    + texts.size() + " texts");
        }
        for (int i = 0; i < checked.size(); i++) {
            int at = spans.get(i)[0];
            if (at < 0) continue;
            float[] query = vectors.get(at++);
            for (Surrogate.Builder b : answers.get(i)) {
                if (b.getText() == null) continue;
                b.setQuerySimilarity(SurrogateEmbedder.cosine(vectors.get(at++), query))
                        .setEmbedder(embedder.get().id()).setEmbedMs(embedMs);
            }
        }
    }

    /** Why this request's surrogates get no similarity here, if they do not. */
    private Optional<String> similarityProblem(SurrogateRequest r) {
        if (embedder.isEmpty()) {
            return Optional.of("no embedding model on worker " + worker + " (start dkv generator with --embedder DIR)");
        }
        if (r.getEmbedder() != null && !r.getEmbedder().equals(embedder.get().id())) {
            return Optional.of("the plan asks for embedder '" + r.getEmbedder() + "' but worker " + worker + " has '"
                    + embedder.get().id() + "'");
        }
        return Optional.empty();
    }

    private Outcome<String, Surrogate> refuse(ConsumerRecord<String, SurrogateRequest> record, IllegalArgumentException reason) {
        refused.incrementAndGet();
        log.warn("dead letter {}: {}", record.key(), reason.getMessage());
        return Outcome.failed(reason);
    }

    private Outcome<String, Surrogate> produced(List<Surrogate.Builder> answers) {
        long now = clock.getAsLong();
        List<ProducerRecord<String, Surrogate>> out = new ArrayList<>(answers.size());
        for (Surrogate.Builder b : answers) {
            Surrogate s = b.setProducedAt(now).build();
            (s.getText() == null ? failed : written).incrementAndGet();
            out.add(new ProducerRecord<>(Topics.SURROGATES, Topics.surrogateKey(s.getExperimentId(), s.getSampleId(), s.getName()), s));
        }
        return Outcome.produced(out);
    }

    private static String quoted(String text) {
        String t = text.length() > 60 ? text.substring(0, 60) + "…" : text;
        return "\"" + t.replace("\n", "\\n") + "\"";
    }
}
