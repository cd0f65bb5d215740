//! Lets the code ask which Python API it is built against (`Py_LIMITED_API`, `Py_3_11`...).

fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
