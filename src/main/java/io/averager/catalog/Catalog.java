package io.averager.catalog;

import io.averager.wire.avro.CheckpointManifest;
import java.util.List;

/**
 * The manifests published so far, with the rewinds that tell which of them belong to an
 * abandoned branch of their run.
 */
public record Catalog(List<CheckpointManifest> manifests, Rewinds rewinds) {

    public Catalog {
        manifests = List.copyOf(manifests);
    }

    /** The manifests of live branches only, in their order. */
    public List<CheckpointManifest> live() {
        return rewinds.live(manifests);
    }
}
