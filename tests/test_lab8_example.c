/* Lab 8's worked example (labs/lab8-quantized-linear/example/train.c, `make lab8-example`), run for a
 * few dozen steps: the CSV it promises, row by row; a chart that parses as XML; int8 training that
 * learns about as well as float32 does; the same losses from the same seed; usage errors that say
 * what is wrong. Behaviour only: no test here depends on how fast this machine is. */
#include "helpers.h"

#define T_EXAMPLE EM_BUILD_DIR "/lab8-example/train"
#define T_CSV_HEADER                                                                                         \
  "step,train_loss_f32,train_loss_int8,test_loss_f32,test_loss_int8,test_acc_f32,test_acc_int8,step_ms_f32," \
  "step_ms_int8"
enum { T_COLS = 9 };

/* A run of 40 steps takes about a second on an idle two-core machine; the timeout leaves room for a
 * machine shared with a whole test suite. */
TestSuite(lab8_example, .timeout = 300);

/* The example with these arguments, into a fresh folder (returned); asserts it exited 0. */
static const char *run_example(const char *steps, const char *seed) {
  const char *dir = t_tmpdir();
  t_proc p;
  cr_assert(t_exists(T_EXAMPLE), "%s is missing: build it with  make test-build  (or make lab8-example)", T_EXAMPLE);
  t_run(&p, 240, T_EXAMPLE, "--steps", steps, "--eval-every", "10", "--seed", seed, "--out", dir);
  cr_assert(p.exited && p.code == 0, "%s exited %d:\n%s", p.cmd, p.code, p.all);
  cr_expect(strstr(p.out, t_str("%s/loss.csv", dir)) && strstr(p.out, t_str("%s/loss.svg", dir)),
            "the example does not say where it wrote its files:\n%s", p.out);
  t_proc_free(&p);
  return dir;
}

/* The CSV's data rows as numbers, an empty field as NAN; rows[r][c], at most max_rows rows. */
static int read_csv(const char *path, double rows[][T_COLS], int max_rows) {
  char *text = t_read_file(path, NULL);
  cr_assert(text != NULL, "%s was not written", path);
  char *line = strtok(text, "\n");
  cr_assert(line && strcmp(line, T_CSV_HEADER) == 0, "%s: header is\n  %s\nnot\n  %s", path, line ? line : "(none)",
            T_CSV_HEADER);
  int n = 0;
  while ((line = strtok(NULL, "\n")) != NULL) {
    cr_assert(n < max_rows, "%s has more than %d rows", path, max_rows);
    char *rest = line, *field;
    int c = 0;
    while ((field = strsep(&rest, ",")) != NULL) {
      cr_assert(c < T_COLS, "%s, row %d: more than %d fields: %s", path, n + 1, T_COLS, line);
      char *end;
      rows[n][c] = *field ? strtod(field, &end) : NAN;
      cr_assert(!*field || !*end, "%s, row %d, field %d: '%s' is not a number", path, n + 1, c + 1, field);
      ++c;
    }
    cr_assert(c == T_COLS, "%s, row %d: %d fields, want %d", path, n + 1, c, T_COLS);
    ++n;
  }
  free(text);
  return n;
}

Test(lab8_example, writes_a_row_per_step_with_test_numbers_every_tenth) {
  const char *dir = run_example("40", "1");
  static double rows[64][T_COLS];
  const int n = read_csv(t_str("%s/loss.csv", dir), rows, 64);
  cr_assert_eq(n, 40, "loss.csv has %d data rows, want one per step (40)", n);
  for (int r = 0; r < n; ++r) {
    const int evaluated = (r + 1) % 10 == 0;
    cr_expect_eq(rows[r][0], r + 1, "row %d: step %g", r + 1, rows[r][0]);
    for (int c = 1; c <= 2; ++c)
      cr_expect(isfinite(rows[r][c]) && rows[r][c] > 0, "row %d: training loss %g", r + 1, rows[r][c]);
    for (int c = 3; c <= 6; ++c)
      cr_expect(evaluated ? isfinite(rows[r][c]) && rows[r][c] >= 0 : isnan(rows[r][c]),
                "row %d, field %d: %g (test numbers belong on every tenth step, and only there)", r + 1, c + 1,
                rows[r][c]);
    for (int c = 5; c <= 6; ++c)
      if (evaluated) cr_expect(rows[r][c] <= 1, "row %d: accuracy %g is a fraction, at most 1", r + 1, rows[r][c]);
    for (int c = 7; c <= 8; ++c) cr_expect(rows[r][c] > 0, "row %d: step time %g ms", r + 1, rows[r][c]);
  }
}

Test(lab8_example, draws_a_chart_that_parses_as_svg) {
  const char *dir = run_example("20", "1");
  const char *svg = t_str("%s/loss.svg", dir);
  t_proc p;
  t_run(&p, 60, "python3", "-c",
        "import sys, xml.dom.minidom as m\n"
        "d = m.parse(sys.argv[1]).documentElement\n"
        "assert d.tagName == 'svg', d.tagName\n"
        "assert len(d.getElementsByTagName('polyline')) >= 4, 'want a training and a test curve per run'\n"
        "assert not d.getElementsByTagName('script'), 'a chart with a script'\n"
        "assert d.getElementsByTagName('title'), 'no title'\n",
        svg);
  cr_assert(p.exited && p.code == 0, "%s does not parse as an SVG chart:\n%s", svg, p.all);
  t_proc_free(&p);
  char *text = t_read_file(svg, NULL);
  cr_expect(!strstr(text, "http://") || t_count(text, "http://") == t_count(text, "http://www.w3.org/2000/svg"),
            "the chart refers to something on the network");
  free(text);
}

/* After 40 steps both runs have learnt (the loss starts near ln 10 = 2.3), and the int8 run's final
 * test loss is within 25 % of the float32 run's: quantisation-aware training is about as good as
 * float32 on this task (a few tenths of a per cent apart when measured), so 25 % only catches a
 * broken layer or a broken gradient, never noise. */
Test(lab8_example, int8_learns_about_as_well_as_float32) {
  const char *dir = run_example("40", "1");
  static double rows[64][T_COLS];
  const int n = read_csv(t_str("%s/loss.csv", dir), rows, 64);
  cr_assert_eq(n, 40);
  const double f32 = rows[n - 1][3], int8 = rows[n - 1][4];
  cr_expect(f32 < 1.5 && int8 < 1.5, "test loss after 40 steps: float32 %g, int8 %g; near 2.3 is nothing learnt", f32,
            int8);
  cr_expect(int8 < 1.25 * f32 && int8 > 0.8 * f32, "final test loss: int8 %g against float32 %g", int8, f32);
  cr_expect(rows[n - 1][6] > 0.5, "int8 test accuracy %g after 40 steps (10 classes: chance is 0.1)", rows[n - 1][6]);
}

/* Fixed seed, fixed numbers: every loss and accuracy (not the times) the same in two runs, and a
 * different seed gives different ones. */
Test(lab8_example, same_seed_same_losses) {
  static double a[16][T_COLS], b[16][T_COLS], c[16][T_COLS];
  const int na = read_csv(t_str("%s/loss.csv", run_example("10", "7")), a, 16);
  const int nb = read_csv(t_str("%s/loss.csv", run_example("10", "7")), b, 16);
  const int nc = read_csv(t_str("%s/loss.csv", run_example("10", "8")), c, 16);
  cr_assert(na == 10 && nb == 10 && nc == 10);
  int differ = 0;
  for (int r = 0; r < 10; ++r)
    for (int k = 1; k <= 6; ++k) {
      cr_expect(a[r][k] == b[r][k] || (isnan(a[r][k]) && isnan(b[r][k])), "seed 7 twice: row %d field %d: %g, %g",
                r + 1, k + 1, a[r][k], b[r][k]);
      differ += k <= 2 && a[r][k] != c[r][k];
    }
  cr_expect(differ > 0, "seeds 7 and 8 gave the same training losses");
}

Test(lab8_example, says_what_is_wrong_with_its_arguments) {
  static const struct {
    const char *arg, *value, *says;
  } bad[] = {
      {"--steps", "0", "--steps 0"},
      {"--steps", "ten", "--steps ten"},
      {"--eval-every", "-1", "--eval-every -1"},
      {"--colour", "red", "unknown option --colour"},
      {"--out", "/proc/no/such/folder", "cannot create /proc/no"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    t_proc p;
    t_run(&p, 60, T_EXAMPLE, bad[i].arg, bad[i].value); /* each fails before any training */
    cr_expect(p.exited && p.code == 2, "%s: exit %d, want 2 (a usage error)", p.cmd, p.code);
    cr_expect(strstr(p.err, bad[i].says), "%s: stderr does not say '%s':\n%s", p.cmd, bad[i].says, p.err);
    t_proc_free(&p);
  }
}
