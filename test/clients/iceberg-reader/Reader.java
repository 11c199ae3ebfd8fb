// Reads a table back the way a JVM engine does, with Apache Iceberg's own Java reader (iceberg-data over
// the REST catalog): run by the table tests as `java -cp <the stack's Iceberg jars> Reader.java`.
//
//   Reader.java <catalog url> <namespace> <table> [snapshot id | @<timestamp ms> | --rewrite-manifests]
//
// With --rewrite-manifests it commits instead what an engine's maintenance job does (Spark's
// rewrite_manifests): every manifest of the current snapshot joined into one, under a snapshot id
// of Iceberg's own choosing (a random 63-bit one), and prints that id. Otherwise it prints one JSON line describing the table (current snapshot, every snapshot with its summary, the
// schema and the partition spec), then one JSON line per row of the snapshot asked for (default: the
// current one). S3 settings come from the environment: S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY.
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.iceberg.Snapshot;
import org.apache.iceberg.Table;
import org.apache.iceberg.catalog.TableIdentifier;
import org.apache.iceberg.data.IcebergGenerics;
import org.apache.iceberg.data.Record;
import org.apache.iceberg.io.CloseableIterable;
import org.apache.iceberg.rest.RESTCatalog;
import org.apache.iceberg.types.Types;

public class Reader {
  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    Map<String, String> props = new HashMap<>();
    props.put("uri", args[0]);
    props.put("io-impl", "org.apache.iceberg.io.ResolvingFileIO");
    props.put("s3.endpoint", env("S3_ENDPOINT", "http://127.0.0.1:9090"));
    props.put("s3.path-style-access", "true");
    props.put("s3.access-key-id", env("S3_ACCESS_KEY", "c360-local"));
    props.put("s3.secret-access-key", env("S3_SECRET_KEY", "c360-local"));
    props.put("client.region", "us-east-1");
    try (RESTCatalog catalog = new RESTCatalog()) {
      catalog.setConf(new Configuration());
      catalog.initialize("reader", props);
      Table table = catalog.loadTable(TableIdentifier.of(args[1], args[2]));
      if (args.length > 3 && args[3].equals("--rewrite-manifests")) {
        table.rewriteManifests().clusterBy(file -> "all").commit();
        System.out.println(table.currentSnapshot().snapshotId());
        return;
      }
      Map<String, Object> about = new LinkedHashMap<>();
      Snapshot current = table.currentSnapshot();
      about.put("current", current == null ? null : current.snapshotId());
      List<Object> snapshots = new ArrayList<>();
      for (Snapshot s : table.snapshots()) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", s.snapshotId());
        m.put("parent", s.parentId());
        m.put("timestamp", s.timestampMillis());
        m.put("operation", s.operation());
        m.put("summary", s.summary());
        m.put("dataFiles", count(s.addedDataFiles(table.io())));
        snapshots.add(m);
      }
      about.put("snapshots", snapshots);
      about.put("schema", table.schema().toString());
      about.put("spec", table.spec().toString());
      System.out.println(JSON.writeValueAsString(about));
      if (current == null) return;
      IcebergGenerics.ScanBuilder scan = IcebergGenerics.read(table);
      if (args.length > 3) {
        scan = args[3].startsWith("@") ? scan.asOfTime(Long.parseLong(args[3].substring(1))) : scan.useSnapshot(Long.parseLong(args[3]));
      }
      try (CloseableIterable<Record> rows = scan.build()) {
        for (Record r : rows) System.out.println(JSON.writeValueAsString(plain(r, table.schema().asStruct())));
      }
    }
  }

  private static int count(Iterable<?> files) {
    int n = 0;
    for (Object ignored : files) n++;
    return n;
  }

  private static String env(String name, String fallback) {
    String v = System.getenv(name);
    return v == null ? fallback : v;
  }

  /** A value as JSON can say it: temporal values and decimals as strings, bytes as base64, nested values recursively. */
  private static Object plain(Object v, org.apache.iceberg.types.Type type) {
    if (v == null) return null;
    if (v instanceof Record r) {
      Map<String, Object> m = new LinkedHashMap<>();
      for (Types.NestedField f : type.asStructType().fields()) m.put(f.name(), plain(r.getField(f.name()), f.type()));
      return m;
    }
    if (v instanceof List<?> l) {
      List<Object> out = new ArrayList<>();
      for (Object e : l) out.add(plain(e, type.asListType().elementType()));
      return out;
    }
    if (v instanceof Map<?, ?> mp) {
      Map<String, Object> out = new LinkedHashMap<>();
      for (Map.Entry<?, ?> e : mp.entrySet()) out.put(String.valueOf(e.getKey()), plain(e.getValue(), type.asMapType().valueType()));
      return out;
    }
    if (v instanceof ByteBuffer b) {
      byte[] bytes = new byte[b.remaining()];
      b.duplicate().get(bytes);
      return Base64.getEncoder().encodeToString(bytes);
    }
    if (v instanceof byte[] bytes) return Base64.getEncoder().encodeToString(bytes);
    if (v instanceof String || v instanceof Number || v instanceof Boolean) {
      return v instanceof java.math.BigDecimal d ? d.toPlainString() : v;
    }
    return v.toString();
  }
}
