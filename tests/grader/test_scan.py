"""The symbol lists of grader/scan.py, on names alone (the batch test covers a real object)."""
from grader.scan import check_symbol


def test_calls():
    assert check_symbol("em_add_b_cpu", "U")
    assert check_symbol("em_add_oracle", "U")
    assert check_symbol("em__fail", "U")
    assert check_symbol("em_todo", "U") is None
    for s in ("cublasSaxpy", "cudnnSoftmaxForward", "dlopen", "dlsym", "fork", "execve", "system", "popen",
              "socket", "connect", "ptrace", "mprotect", "cblas_saxpy", "syscall", "sigaction"):
        assert check_symbol(s, "U"), s
    for s in ("memcpy", "malloc", "GOMP_parallel", "omp_get_thread_num", "printf", "cudaLaunchKernel", "expf"):
        assert check_symbol(s, "U") is None, s


def test_definitions():
    for s in ("em_now_s", "clock_gettime", "gettimeofday", "omp_get_wtime", "cudaEventElapsedTime",
              "cudaGetLastError", "memcmp", "json_dump_file", "exit", "main"):
        assert check_symbol(s, "T"), s
    assert check_symbol("lab1_add_a", "T") is None
    assert check_symbol("clock_gettime", "t") is None  # a static function interposes on nothing


def test_template_libraries_by_namespace():
    assert check_symbol("_ZN3cub18CUB_200200_900_NS12DeviceReduce3SumEPvRmPfS4_iP11CUstream_st", "U")
    assert check_symbol("_ZN6thrust6reduceIPfEEvT_S2_", "W")
    assert check_symbol("_Z8add3cubePf", "T") is None
