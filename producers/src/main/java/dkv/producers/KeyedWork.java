package dkv.producers;

import dkv.avro.WorkItem;

/** A WorkItem and its Kafka key ({@code experiment_id/sample_id}). */
public record KeyedWork(String key, WorkItem item) {}
