package dkv.producers.corpus;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.nio.charset.StandardCharsets;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.LowerCaseFilter;
import org.apache.lucene.analysis.StopFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.WordlistLoader;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.en.EnglishPossessiveFilter;
import org.apache.lucene.analysis.snowball.SnowballFilter;
import org.apache.lucene.analysis.standard.StandardTokenizer;
import org.apache.lucene.util.IOUtils;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;

/**
 * Splits text into the terms that keyword statistics count: Lucene's StandardTokenizer (Unicode word
 * boundaries), possessive 's removed, lower-cased, stop words removed (Lucene's English set and the
 * Snowball English list), and no stemming, so a keyword surrogate reads as words of the document. Terms
 * without a letter (numbers, stray symbols) or of one character are dropped.
 */
public final class Terms {
    private static final CharArraySet STOP_WORDS = stopWords();
    private static final Analyzer ANALYZER = new Analyzer() {
        @Override
        protected TokenStreamComponents createComponents(String field) {
            Tokenizer source = new StandardTokenizer();
            TokenStream stream = new EnglishPossessiveFilter(source);
            stream = new LowerCaseFilter(stream);
            stream = new StopFilter(stream, STOP_WORDS);
            return new TokenStreamComponents(source, stream);
        }
    };

    private static CharArraySet stopWords() {
        try (InputStream list = SnowballFilter.class.getResourceAsStream("english_stop.txt")) {
            if (list == null) {
                throw new IllegalStateException("Lucene's Snowball English stop list is missing from the classpath");
            }
            CharArraySet words = new CharArraySet(
                    WordlistLoader.getSnowballWordSet(IOUtils.getDecodingReader(list, StandardCharsets.UTF_8)), false);
            words.addAll(EnglishAnalyzer.ENGLISH_STOP_WORDS_SET);
            return CharArraySet.unmodifiableSet(words);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read Lucene's English stop list", e);
        }
    }

    private Terms() {}

    /** The document's terms in order of appearance, repeats included. */
    public static List<String> of(String text) {
        List<String> terms = new ArrayList<>();
        try (TokenStream stream = ANALYZER.tokenStream("text", text)) {
            CharTermAttribute term = stream.addAttribute(CharTermAttribute.class);
            stream.reset();
            while (stream.incrementToken()) {
                String value = term.toString();
                if (value.length() > 1 && value.chars().anyMatch(Character::isLetter)) {
                    terms.add(value);
                }
            }
            stream.end();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot analyse text", e);
        }
        return terms;
    }
}
