// Helm's lint and template, through helm-java (Helm 3 embedded in a native library), for
// dev/helm/chart.ts: `lint <chart>` prints Helm's messages and exits 1 when the chart fails;
// `template <chart> <release> [<values.yaml>...]` prints the rendered manifests.
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import java.nio.file.Path;

public class HelmTool {
  public static void main(String[] args) {
    Helm chart = new Helm(Path.of(args[1]));
    try {
      if (args[0].equals("lint")) {
        LintResult result = chart.lint().strict().call();
        result.getMessages().forEach(System.out::println);
        System.exit(result.isFailed() ? 1 : 0);
      }
      // Rendered for a current cluster: Helm's offline default (1.20) is older than the chart supports.
      TemplateCommand template = chart.template().withName(args[2]).withKubeVersion("1.31.0");
      for (int i = 3; i < args.length; i++) template = template.withValuesFile(Path.of(args[i]));
      System.out.print(template.call());
    } catch (RuntimeException e) {
      // Helm's own message (a template error, a value the schema refuses), without the JVM's trace.
      System.err.println(e.getMessage());
      System.exit(1);
    }
  }
}
