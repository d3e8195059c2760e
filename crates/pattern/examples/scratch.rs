fn main() {
    for p in std::env::args().skip(1) {
        let parsed = pattern::parse(&p, pattern::StixVersion::V21);
        for d in &parsed.diagnostics {
            println!("{}", d.render(&p));
        }
        if let Some(t) = parsed.pattern {
            println!("=> {t}");
        }
        println!("---");
    }
}
