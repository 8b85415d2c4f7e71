//! The content type of an artifact download, decided as MLflow's server decides it:
//! its list of text extensions is served as `text/plain` (no charset), everything else
//! is looked up the way Python's `mimetypes.guess_type` does it (a built-in table,
//! overridden by the system's `mime.types` files), and what is unknown is
//! `application/octet-stream`. Downloads go out as attachments with `nosniff`, so a
//! browser never renders an artifact in the server's origin.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Extensions (or whole file names, for files without one) that MLflow serves as plain
/// text. Compared case-sensitively, as MLflow does: `MLmodel` is text, `MLproject` is not
/// (MLflow's project file constant is lower-case).
const TEXT: &[&str] = &[
    "txt",
    "log",
    "err",
    "cfg",
    "conf",
    "cnf",
    "cf",
    "ini",
    "properties",
    "prop",
    "hocon",
    "toml",
    "yaml",
    "yml",
    "xml",
    "json",
    "js",
    "py",
    "py3",
    "csv",
    "tsv",
    "md",
    "rst",
    "ipynb",
    "MLmodel",
    "mlproject",
];

/// Python 3.11's built-in `mimetypes` table (strict types), by extension without the dot.
const DEFAULTS: &[(&str, &str)] = &[
    ("3g2", "audio/3gpp2"),
    ("3gp", "audio/3gpp"),
    ("3gpp", "audio/3gpp"),
    ("3gpp2", "audio/3gpp2"),
    ("a", "application/octet-stream"),
    ("aac", "audio/aac"),
    ("adts", "audio/aac"),
    ("ai", "application/postscript"),
    ("aif", "audio/x-aiff"),
    ("aifc", "audio/x-aiff"),
    ("aiff", "audio/x-aiff"),
    ("ass", "audio/aac"),
    ("au", "audio/basic"),
    ("avi", "video/x-msvideo"),
    ("avif", "image/avif"),
    ("bat", "text/plain"),
    ("bcpio", "application/x-bcpio"),
    ("bin", "application/octet-stream"),
    ("bmp", "image/bmp"),
    ("c", "text/plain"),
    ("cdf", "application/x-netcdf"),
    ("cpio", "application/x-cpio"),
    ("csh", "application/x-csh"),
    ("css", "text/css"),
    ("csv", "text/csv"),
    ("dll", "application/octet-stream"),
    ("doc", "application/msword"),
    ("dot", "application/msword"),
    ("dvi", "application/x-dvi"),
    ("eml", "message/rfc822"),
    ("eps", "application/postscript"),
    ("etx", "text/x-setext"),
    ("exe", "application/octet-stream"),
    ("gif", "image/gif"),
    ("gtar", "application/x-gtar"),
    ("h", "text/plain"),
    ("h5", "application/x-hdf5"),
    ("hdf", "application/x-hdf"),
    ("heic", "image/heic"),
    ("heif", "image/heif"),
    ("htm", "text/html"),
    ("html", "text/html"),
    ("ico", "image/vnd.microsoft.icon"),
    ("ief", "image/ief"),
    ("jpe", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("jpg", "image/jpeg"),
    ("js", "application/javascript"),
    ("json", "application/json"),
    ("ksh", "text/plain"),
    ("latex", "application/x-latex"),
    ("loas", "audio/aac"),
    ("m1v", "video/mpeg"),
    ("m3u", "application/vnd.apple.mpegurl"),
    ("m3u8", "application/vnd.apple.mpegurl"),
    ("man", "application/x-troff-man"),
    ("me", "application/x-troff-me"),
    ("mht", "message/rfc822"),
    ("mhtml", "message/rfc822"),
    ("mif", "application/x-mif"),
    ("mjs", "application/javascript"),
    ("mov", "video/quicktime"),
    ("movie", "video/x-sgi-movie"),
    ("mp2", "audio/mpeg"),
    ("mp3", "audio/mpeg"),
    ("mp4", "video/mp4"),
    ("mpa", "video/mpeg"),
    ("mpe", "video/mpeg"),
    ("mpeg", "video/mpeg"),
    ("mpg", "video/mpeg"),
    ("ms", "application/x-troff-ms"),
    ("n3", "text/n3"),
    ("nc", "application/x-netcdf"),
    ("nq", "application/n-quads"),
    ("nt", "application/n-triples"),
    ("nws", "message/rfc822"),
    ("o", "application/octet-stream"),
    ("obj", "application/octet-stream"),
    ("oda", "application/oda"),
    ("opus", "audio/opus"),
    ("p12", "application/x-pkcs12"),
    ("p7c", "application/pkcs7-mime"),
    ("pbm", "image/x-portable-bitmap"),
    ("pdf", "application/pdf"),
    ("pfx", "application/x-pkcs12"),
    ("pgm", "image/x-portable-graymap"),
    ("pl", "text/plain"),
    ("png", "image/png"),
    ("pnm", "image/x-portable-anymap"),
    ("pot", "application/vnd.ms-powerpoint"),
    ("ppa", "application/vnd.ms-powerpoint"),
    ("ppm", "image/x-portable-pixmap"),
    ("pps", "application/vnd.ms-powerpoint"),
    ("ppt", "application/vnd.ms-powerpoint"),
    ("ps", "application/postscript"),
    ("pwz", "application/vnd.ms-powerpoint"),
    ("py", "text/x-python"),
    ("pyc", "application/x-python-code"),
    ("pyo", "application/x-python-code"),
    ("qt", "video/quicktime"),
    ("ra", "audio/x-pn-realaudio"),
    ("ram", "application/x-pn-realaudio"),
    ("ras", "image/x-cmu-raster"),
    ("rdf", "application/xml"),
    ("rgb", "image/x-rgb"),
    ("roff", "application/x-troff"),
    ("rtx", "text/richtext"),
    ("sgm", "text/x-sgml"),
    ("sgml", "text/x-sgml"),
    ("sh", "application/x-sh"),
    ("shar", "application/x-shar"),
    ("snd", "audio/basic"),
    ("so", "application/octet-stream"),
    ("src", "application/x-wais-source"),
    ("srt", "text/plain"),
    ("sv4cpio", "application/x-sv4cpio"),
    ("sv4crc", "application/x-sv4crc"),
    ("svg", "image/svg+xml"),
    ("swf", "application/x-shockwave-flash"),
    ("t", "application/x-troff"),
    ("tar", "application/x-tar"),
    ("tcl", "application/x-tcl"),
    ("tex", "application/x-tex"),
    ("texi", "application/x-texinfo"),
    ("texinfo", "application/x-texinfo"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("tr", "application/x-troff"),
    ("trig", "application/trig"),
    ("tsv", "text/tab-separated-values"),
    ("txt", "text/plain"),
    ("ustar", "application/x-ustar"),
    ("vcf", "text/x-vcard"),
    ("vtt", "text/vtt"),
    ("wasm", "application/wasm"),
    ("wav", "audio/x-wav"),
    ("webm", "video/webm"),
    ("webmanifest", "application/manifest+json"),
    ("wiz", "application/msword"),
    ("wsdl", "application/xml"),
    ("xbm", "image/x-xbitmap"),
    ("xlb", "application/vnd.ms-excel"),
    ("xls", "application/vnd.ms-excel"),
    ("xml", "text/xml"),
    ("xpdl", "application/xml"),
    ("xpm", "image/x-xpixmap"),
    ("xsl", "application/xml"),
    ("xwd", "image/x-xwindowdump"),
    ("zip", "application/zip"),
];

/// Suffixes that stand for two (`.tgz` is `.tar.gz`), and compression suffixes, which
/// name an encoding rather than a type (case-sensitive, as in Python).
const SUFFIXES: &[(&str, &str)] = &[
    ("svgz", "svg.gz"),
    ("tgz", "tar.gz"),
    ("taz", "tar.gz"),
    ("tz", "tar.gz"),
    ("tbz2", "tar.bz2"),
    ("txz", "tar.xz"),
];
const ENCODINGS: &[&str] = &["gz", "Z", "bz2", "xz", "br"];

/// Where Python looks for the system's tables, in order (later files win).
const SYSTEM_FILES: &[&str] = &[
    "/etc/mime.types",
    "/etc/httpd/mime.types",
    "/etc/httpd/conf/mime.types",
    "/etc/apache/mime.types",
    "/etc/apache2/mime.types",
    "/usr/local/etc/httpd/conf/mime.types",
    "/usr/local/lib/netscape/mime.types",
    "/usr/local/etc/mime.types",
];

fn table() -> &'static HashMap<String, String> {
    static TABLE: OnceLock<HashMap<String, String>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t: HashMap<String, String> = DEFAULTS
            .iter()
            .map(|(e, m)| ((*e).to_string(), (*m).to_string()))
            .collect();
        for file in SYSTEM_FILES {
            if let Ok(text) = std::fs::read_to_string(file) {
                read_mime_types(&text, &mut t);
            }
        }
        t
    })
}

/// Adds the entries of a `mime.types` file: `type/subtype ext ext ...`, `#` comments.
fn read_mime_types(text: &str, into: &mut HashMap<String, String>) {
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(ty) = words.next() else { continue };
        for ext in words {
            into.insert(ext.to_string(), ty.to_string());
        }
    }
}

/// Python's `posixpath.splitext`: the extension (with its dot) of the last component,
/// where leading dots do not start one (`.bashrc` has none).
fn splitext(name: &str) -> (&str, &str) {
    let start = name.rfind('/').map_or(0, |i| i + 1);
    match name[start..].rfind('.') {
        Some(i) if name[start..start + i].bytes().any(|b| b != b'.') => name.split_at(start + i),
        _ => (name, ""),
    }
}

/// The type Python's `mimetypes.guess_type` gives `name`, if any.
fn guess_type(name: &str) -> Option<String> {
    // `scheme:rest` is read as a URL, as Python's `_splittype` does.
    let name = match name.split_once(':') {
        Some((scheme, rest)) if !scheme.is_empty() && !scheme.contains('/') => {
            if scheme.eq_ignore_ascii_case("data") {
                return None;
            }
            rest
        }
        _ => name,
    };
    let mut name = name.to_string();
    loop {
        let (base, ext) = splitext(&name);
        let Some((_, to)) = SUFFIXES
            .iter()
            .find(|(from, _)| ext.len() > 1 && ext[1..].eq_ignore_ascii_case(from))
        else {
            break;
        };
        name = format!("{base}.{to}");
    }
    let (base, mut ext) = splitext(&name);
    if ext.len() > 1 && ENCODINGS.contains(&&ext[1..]) {
        (_, ext) = splitext(base);
    }
    let ext = ext.strip_prefix('.')?.to_ascii_lowercase();
    table().get(&ext).cloned()
}

/// The `Content-Type` of a download of the artifact at `path`.
pub fn content_type(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    let (_, ext) = splitext(name);
    let key = if ext.is_empty() { name } else { &ext[1..] };
    if TEXT.contains(&key) {
        return "text/plain".to_string();
    }
    guess_type(name).unwrap_or_else(|| "application/octet-stream".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_mlflow_serves_them() {
        for (path, want) in [
            ("a.txt", "text/plain"),
            ("model/MLmodel", "text/plain"),
            ("MLproject", "application/octet-stream"),
            ("mlproject", "text/plain"),
            ("x.json", "text/plain"),
            ("conda.yaml", "text/plain"),
            ("m.pkl", "application/octet-stream"),
            ("i.png", "image/png"),
            ("I.PNG", "image/png"),
            ("d.pdf", "application/pdf"),
            ("z.html", "text/html"),
            ("s.svg", "image/svg+xml"),
            ("t.tar.gz", "application/x-tar"),
            ("t.tgz", "application/x-tar"),
            ("j.jpg", "image/jpeg"),
            ("noext", "application/octet-stream"),
            (".bashrc", "application/octet-stream"),
            ("e.mlmodel", "application/octet-stream"),
            ("q.onnx", "application/octet-stream"),
            ("zip.zip", "application/zip"),
        ] {
            assert_eq!(content_type(path), want, "{path}");
        }
    }

    #[test]
    fn splitext_is_pythons() {
        assert_eq!(splitext("a.b.c"), ("a.b", ".c"));
        assert_eq!(splitext(".rc"), (".rc", ""));
        assert_eq!(splitext("..x.y"), ("..x", ".y"));
        assert_eq!(splitext("x."), ("x", "."));
        assert_eq!(splitext("dir.d/file"), ("dir.d/file", ""));
    }

    #[test]
    fn system_tables_override_the_defaults() {
        let mut t = HashMap::new();
        read_mime_types(
            "# comment\napplication/x-thing  thing thg # trailing\n\ntext/x-empty\n",
            &mut t,
        );
        assert_eq!(
            t.get("thing").map(String::as_str),
            Some("application/x-thing")
        );
        assert_eq!(
            t.get("thg").map(String::as_str),
            Some("application/x-thing")
        );
        assert_eq!(t.len(), 2);
    }
}
