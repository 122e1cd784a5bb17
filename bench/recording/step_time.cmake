# Trainer step time with recording off / online / eval (same model, data and process).
add_executable(mapd_bench_step_time "${CMAKE_CURRENT_LIST_DIR}/step_time.cpp")
target_link_libraries(mapd_bench_step_time PRIVATE mapd_train mapd_warnings)
mapd_use_torch_pch(mapd_bench_step_time)
target_compile_options(mapd_bench_step_time PRIVATE -fPIC)
