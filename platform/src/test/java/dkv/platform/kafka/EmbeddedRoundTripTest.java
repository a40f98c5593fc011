package dkv.platform.kafka;

import dkv.platform.testing.SharedKafka;

class EmbeddedRoundTripTest extends RoundTripContract {
    @Override
    protected String bootstrapServers() {
        return SharedKafka.bootstrapServers();
    }
}
