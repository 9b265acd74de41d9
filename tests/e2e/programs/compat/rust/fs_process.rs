// Files with UTF-8 names in the temp dir, the environment, and a child process pipeline.
use std::env;
use std::fs;
use std::process::Command;

fn main() {
    let text = env::args().nth(1).unwrap_or_default();
    let dir = env::temp_dir().join("rust-ünïcödé");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(format!("{}.txt", text)), &text).unwrap();
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    println!("temp_dir {}", env::temp_dir().display());
    println!("names {:?}", names);
    println!("chars {}", fs::read_to_string(dir.join(format!("{}.txt", text))).unwrap().chars().count());
    println!("LANG {}", env::var("LANG").unwrap_or_default());
    let out = Command::new("sh")
        .arg("-c")
        .arg("printf 'pear\\napple\\nfig\\n' | sort | tr a-z A-Z")
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    println!("status {}", out.status.code().unwrap_or(-1));
    fs::remove_dir_all(&dir).unwrap();
}
