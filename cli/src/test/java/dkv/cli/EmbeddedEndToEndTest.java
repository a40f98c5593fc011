package dkv.cli;

import dkv.platform.testing.SharedKafka;

/** The end-to-end contract on the embedded broker this test JVM shares; always runs. */
class EmbeddedEndToEndTest extends EndToEndContract {
    @Override
    protected String bootstrapServers() {
        return SharedKafka.bootstrapServers();
    }
}
