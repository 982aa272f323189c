//! nginx (Debian's) as the CDN stand-in: a caching reverse proxy on a free 127.0.0.1 port in
//! front of an edge, keyed by the whole request URI (query string included, as LL-HLS blocking
//! requests need), with `proxy_cache_lock` collapsing identical misses into one upstream request,
//! and the upstream's `Cache-Control` deciding what is kept and for how long. nginx wakes a
//! request waiting on its cache lock every 500 ms only: a viewer that is not the first to ask a
//! URL gets it up to that late, so the player tests play one viewer per URL.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::checks::wait_until;
use super::http;
use super::proc::{free_ports, Background};

/// A running nginx cache; killed (by PID) on drop.
pub struct Cdn {
    pub addr: String,
    _process: Background,
}

impl Cdn {
    /// Starts nginx in `dir` in front of `upstream` (`127.0.0.1:port`).
    pub fn start(dir: &Path, upstream: &str) -> Cdn {
        let port = free_ports(1)[0];
        for sub in ["cache", "tmp", "logs"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let d = dir.display();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log warn;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n\
               access_log {d}/logs/access.log;\n\
               client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;\n\
               uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;\n\
               proxy_cache_path {d}/cache keys_zone=edge:10m max_size=1g inactive=10m use_temp_path=off;\n\
               server {{\n\
                 listen 127.0.0.1:{port};\n\
                 location / {{\n\
                   proxy_pass http://{upstream};\n\
                   proxy_http_version 1.1;\n\
                   proxy_set_header Connection \"\";\n\
                   proxy_cache edge;\n\
                   proxy_cache_key $scheme$proxy_host$request_uri;\n\
                   proxy_cache_lock on;\n\
                   proxy_cache_lock_timeout 10s;\n\
                   proxy_cache_lock_age 10s;\n\
                   proxy_read_timeout 30s;\n\
                   add_header X-Cache $upstream_cache_status always;\n\
                 }}\n\
               }}\n\
             }}\n"
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let mut cmd = Command::new("nginx");
        cmd.arg("-p").arg(dir).arg("-c").arg(&path).args(["-e", "stderr"]);
        let process = Background::spawn("nginx", &mut cmd, dir.join("nginx.log"));
        let addr = format!("127.0.0.1:{port}");
        wait_until("nginx to listen", Duration::from_secs(10), || std::net::TcpStream::connect(&addr).is_ok());
        Cdn { addr, _process: process }
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// GETs `path` through the cache.
    pub fn get(&self, path: &str) -> http::Response {
        http::get(&self.url(path))
    }

    /// GETs `path` through the cache from `viewers` clients at once.
    pub fn get_at_once(&self, path: &str, viewers: usize) -> Vec<http::Response> {
        let url = self.url(path);
        std::thread::scope(|s| {
            let gets: Vec<_> = (0..viewers).map(|_| s.spawn(|| http::get(&url))).collect();
            gets.into_iter().map(|g| g.join().expect("a viewer")).collect()
        })
    }
}
