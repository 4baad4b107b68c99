package io.animatediff.trainer;

import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.StoreConfig;
import io.animatediff.engine.training.DatasetSource;
import io.animatediff.engine.training.DatasetSources;

/**
 * {@code s3://bucket/prefix} for the in-process CLI ({@code ./animatediff train --dataset s3://...}):
 * an {@link S3DatasetSource} on the store of the {@code ANIMATEDIFF_S3_*} settings, that bucket.
 */
public final class S3DatasetProvider implements DatasetSources.Provider {
    @Override
    public String scheme() {
        return "s3";
    }

    @Override
    public DatasetSource open(String uri) {
        S3DatasetSource.Location loc = S3DatasetSource.Location.parse(uri);
        ObjectStore store = new ObjectStore(StoreConfig.fromEnvironment().withBucket(loc.bucket()));
        return new S3DatasetSource(store, loc.prefix());
    }
}
